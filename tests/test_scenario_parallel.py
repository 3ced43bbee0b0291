"""Scenario keys for multi-node layouts, inline GPUs and Hugging Face configs: accepted, checked, costed."""
import json
import subprocess
import sys
from importlib import resources

import pytest

from sim.api import run
from sim.errors import ScenarioError
from sim.scenario.load import load_scenario


def _scenario(pool: dict, model="llama-3-70b", **top) -> dict:
    base = {"name": "t", "duration": 60, "model": model,
            "workload": {"arrival": {"process": "poisson", "rate": 2},
                         "prompt_tokens": {"dist": "fixed", "value": 200},
                         "output_tokens": {"dist": "fixed", "value": 20}},
            "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1, "max_model_len": 4096,
                                 **pool}]}}
    base.update(top)
    return base


def test_gpu_hours_count_every_gpu_of_a_pipelined_replica():
    r = run(_scenario({"tensor_parallel": 4, "pipeline_parallel": 2}))
    # one replica of 4 x 2 GPUs provisioned for the 60 s run
    assert r.summary["gpu_hours"]["provisioned"] == pytest.approx(8 * 60 / 3600)


def test_layout_problems_name_the_field():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_scenario({"tensor_parallel": 8, "expert_parallel": 16}, model="mixtral-8x7b"))
    assert ("fleet.pools.0.expert_parallel: must divide tensor_parallel=8 and n_experts=8 (1: experts split "
            "tensor-parallel; tensor_parallel: whole experts per GPU): 1, 2, 4, 8 (got 16)") in str(exc.value)
    # expert groups of tensor-parallel experts (TensorRT-LLM's moe_ep_size x moe_tp_size) are a layout
    load_scenario(_scenario({"tensor_parallel": 8, "expert_parallel": 4}, model="mixtral-8x7b"))
    with pytest.raises(ScenarioError, match="fleet.pools.0.expert_parallel: applies only to mixture-of-experts"):
        load_scenario(_scenario({"tensor_parallel": 2, "expert_parallel": 2}))
    with pytest.raises(ScenarioError, match="fleet.pools.0.tensor_parallel: must divide n_heads=64"):
        load_scenario(_scenario({"tensor_parallel": 3}))
    # data-parallel attention lifts the head constraint
    load_scenario(_scenario({"tensor_parallel": 3, "data_parallel_attention": True}))


def test_layout_that_does_not_fit_is_refused_with_the_shortfall():
    with pytest.raises(ScenarioError, match=r"fleet.pools.0: llama-3.1-405b does not fit on 8x h100-sxm.*short by 26\.5 GiB"):
        load_scenario(_scenario({"tensor_parallel": 8}, model="llama-3.1-405b"))
    load_scenario(_scenario({"tensor_parallel": 8, "pipeline_parallel": 2}, model="llama-3.1-405b"))


def test_validate_prints_the_per_gpu_plan(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(_scenario({"tensor_parallel": 16, "expert_parallel": 16, "data_parallel_attention": True,
                                       "gpu": "h200-sxm"}, model="deepseek-v3",
                                      perf={"model": "roofline", "weight_dtype": "fp8"})))
    out = subprocess.run([sys.executable, "-m", "sim", "validate", str(p)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # the plan is wrapped to the terminal's width, which the temporary folder's name shifts: read it unwrapped
    text = " ".join(out.stdout.split())
    assert "16 GPUs/replica, 2 nodes of 8, EP16, data-parallel attention" in text
    assert "deepseek-v3 (fp8 weights" in text
    # attention, dense layers, shared experts and router whole on every GPU, 16 routed experts
    assert "per GPU: weights 52.39 GiB" in text


def test_inline_gpu_where_a_catalog_name_goes():
    sc = _scenario({"gpu": {"name": "a100-40gb", "like": "a100-80gb", "hbm_gb": 40, "hbm_bandwidth_tbps": 1.555},
                    "tensor_parallel": 1}, model="llama-3-8b")
    r = run(sc)
    assert r.summary["pools"]["p"]["gpu"] == "a100-40gb"
    with pytest.raises(ScenarioError, match="fleet.pools.0.gpu.hbm_gb: must be a number > 0"):
        load_scenario(_scenario({"gpu": {"like": "a100-80gb", "hbm_gb": -1}}, model="llama-3-8b"))
    with pytest.raises(ScenarioError, match="fleet.pools.0.gpu.colour: unknown field"):
        load_scenario(_scenario({"gpu": {"colour": "green"}}, model="llama-3-8b"))


def test_hf_config_path_is_relative_to_the_scenario(tmp_path):
    src = resources.files("sim.scenario").joinpath("data", "hf", "llama-3.1-8b.json").read_text()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "config.json").write_text(src)
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(_scenario({}, model={"hf_config": "models/config.json", "name": "my-llama"})))
    loaded = load_scenario(p)
    assert loaded.scenario.model["name"] == "my-llama"
    (tmp_path / "models" / "config.json").write_text(src.replace('"vocab_size"', '"n_future"'))
    out = subprocess.run([sys.executable, "-m", "sim", "validate", str(p)], capture_output=True, text=True)
    assert out.returncode == 2 and "n_future: unknown key for model_type llama" in out.stderr


def test_deepseek_cluster_scenario_runs():
    r = run("scenarios/deepseek_v3_cluster.yaml", overrides=["duration=120", "warmup=10"])
    pools = r.summary["pools"]
    assert set(pools) == {"ep16-2node", "tp8-1node"}
    assert r.summary["gpu_hours"]["provisioned"] == pytest.approx((2 * 16 + 2 * 8) * 120 / 3600)


def test_gpu_of_the_wrong_kind_is_one_clear_problem():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_scenario({"gpu": 5}))
    assert exc.value.problems == [("fleet.pools.0.gpu", "must be a catalog GPU name or a mapping of the datasheet (got 5)")]


def test_a_model_published_in_fp8_that_does_not_fit_in_bf16_says_so():
    with pytest.raises(ScenarioError, match=r"short by .*\(deepseek-v3 is published in fp8: perf.weight_dtype: fp8\)"):
        load_scenario(_scenario({"tensor_parallel": 8, "gpu": "h200-sxm"}, model="deepseek-v3"))


def test_fluid_tier_and_round_trips_keep_the_layout():
    # the fluid tier measures capacity curves on scenarios rebuilt from a dump of this one (same model,
    # pools and layouts; requests 10x shorter than the scenario's, so that the saturation search of
    # each curve, most of the test's time, decodes a tenth of the tokens: ~5 CPU s instead of ~17)
    r = run("scenarios/deepseek_v3_cluster.yaml", overrides=["fidelity=fluid", "duration=2h", "fluid.grid=[0.5, 1.0]",
                                                             "fluid.calibration_requests=100",
                                                             "fluid.calibration_duration=60",
                                                             "workload.prompt_tokens.mean=200",
                                                             "workload.output_tokens.mean=60"])
    assert r.summary["gpu_hours"]["provisioned"] == pytest.approx((2 * 16 + 2 * 8) * 2)


@pytest.mark.parametrize("model,pool", [
    ("gpt-oss-20b", {"tensor_parallel": 2, "pipeline_parallel": 2}),          # sliding window + pipeline
    ({"attention": "mla", "kv_lora_rank": 64, "qk_rope_head_dim": 16, "qk_nope_head_dim": 32, "v_head_dim": 32,
      "n_layers": 4, "hidden": 256, "n_heads": 8, "ffn_hidden": 64, "vocab": 1000, "n_experts": 16,
      "experts_per_token": 2, "shared_ffn_hidden": 64, "first_k_dense": 1, "dense_ffn_hidden": 512},
     {"tensor_parallel": 2, "expert_parallel": 2, "data_parallel_attention": True}),
    ({"n_layers": 4, "hidden": 256, "n_heads": 8, "n_kv_heads": 2, "ffn_hidden": 64, "vocab": 1000,   # GQA MoE
      "n_experts": 16, "experts_per_token": 4},
     {"tensor_parallel": 4, "expert_parallel": 4, "data_parallel_attention": True}),
])
def test_fast_and_reference_engines_agree_on_new_variants(model, pool):
    sc = _scenario({**pool, "batching": {"chunked_prefill": True, "max_batched_tokens": 2048}}, model=model)
    sc["workload"]["prompt_tokens"] = {"dist": "lognormal", "mean": 300, "cv": 1, "max": 2000}
    sc["workload"]["output_tokens"] = {"dist": "lognormal", "mean": 50, "cv": 1, "max": 500}
    fast, ref = run({**sc, "engine": "fast"}), run({**sc, "engine": "reference"})
    lf, lr = dict(fast.summary["latency"]), dict(ref.summary["latency"])
    # ITL sums gaps in a different order in the two engines (as for every model: test_equivalence.py)
    assert lf.pop("itl") == pytest.approx(lr.pop("itl"), rel=1e-9)
    assert lf == lr
    assert fast.summary["requests"] == ref.summary["requests"]


def test_validate_says_one_gpu_per_replica_in_the_singular(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps(_scenario({"tensor_parallel": 1}, model="llama-3-8b")))
    out = subprocess.run([sys.executable, "-m", "sim", "validate", str(p)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pool p: 1 x 1 h100-sxm (1 GPU/replica)" in out.stdout
