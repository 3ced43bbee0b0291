"""Catalogs of GPUs and model architectures, read from the YAML files in ``data/``: the names every
layer imports, from :mod:`sim.scenario.gpu_catalog` (GPUs, inline datasheets) and
:mod:`sim.scenario.model_catalog` (models, inline architectures, Hugging Face configs).

    >>> get_gpu("h100-sxm").hbm_tbps
    3.35
    >>> get_model("llama-2-7b").n_kv_heads
    32
    >>> get_model({"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100}).head_dim
    16

Units: :mod:`sim.scenario.gpu_catalog`.
"""
from __future__ import annotations

from sim.scenario.architecture import ModelSpec, architecture_params, check_architecture
from sim.scenario.gpu_catalog import (DEFAULT_LIKE, GPU_NUMBER_MAX, GPU_NUMBER_MIN, PRECISIONS, Efficiency, GPUSpec,
                                      get_gpu, gpu_family, gpu_names)
from sim.scenario.model_catalog import get_model, model_names

__all__ = ["DEFAULT_LIKE", "GPU_NUMBER_MAX", "GPU_NUMBER_MIN", "PRECISIONS", "Efficiency", "GPUSpec", "ModelSpec",
           "architecture_params", "check_architecture", "get_gpu", "get_model", "gpu_family", "gpu_names",
           "model_names"]
