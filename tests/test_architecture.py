"""Architectures of 2025-26 models: Hugging Face configs read as published, parameter counts against
the published totals, and bad configs refused with the key named."""
import json

import pytest

from sim.errors import InputError, ScenarioError
from sim.scenario.architecture import architecture_params, kv_elements_per_token
from sim.scenario.catalog import get_model
from sim.scenario.hf_config import hf_fields

# (catalog name, published total, published active, active excludes the input embedding, source)
PUBLISHED = [
    ("llama-3.1-8b", 8.03e9, 8.03e9, False, "HF safetensors metadata 8,030,261,248"),
    ("llama-3.1-70b", 70.6e9, 70.6e9, False, "HF safetensors metadata 70.6B"),
    ("llama-3.1-405b", 405.9e9, 405.9e9, False, "HF safetensors metadata 405.9B"),
    ("qwen3-32b", 32.8e9, 32.8e9, False, "Qwen3-32B model card: 32.8B"),
    ("qwen3-235b-a22b", 235e9, 22e9, False, "Qwen3-235B-A22B model card: 235B total, 22B activated"),
    # DeepSeek-V3 README_WEIGHTS.md: 671B total, "36.6B activation parameters (including 0.9B for the
    # output head)", i.e. the input embedding is not counted as active; the paper rounds it to 37B.
    ("deepseek-v3", 671e9, 36.6e9, True, "arXiv:2412.19437; github.com/deepseek-ai/DeepSeek-V3 README_WEIGHTS.md"),
    # gpt-oss model card (arXiv:2508.10925, table 1): active parameters exclude the embedding.
    ("gpt-oss-120b", 116.83e9, 5.13e9, True, "arXiv:2508.10925 table 1"),
    ("gpt-oss-20b", 20.91e9, 3.61e9, True, "arXiv:2508.10925 table 1"),
    ("mistral-small-24b", 23.57e9, 23.57e9, False, "HF safetensors metadata 23.6B"),
    ("mistral-large-123b", 122.6e9, 122.6e9, False, "HF safetensors metadata 122.6B"),
    ("opt-13b", 12.85e9, 12.85e9, False, "issue #18 / OPT checkpoint: 12.85B"),
    ("gpt2-xl", 1.56e9, 1.56e9, False, "HF gpt2-xl: 1.56B"),
    ("mixtral-8x7b", 46.7e9, 12.9e9, False, "Mixtral paper arXiv:2401.04088: 47B total, 13B active"),
]


@pytest.mark.parametrize("name,total,active,no_embed,_src", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_architecture_reproduces_published_parameter_counts(name, total, active, no_embed, _src):
    m = get_model(name)
    t, a = architecture_params(m)
    if no_embed:
        a -= m.vocab * m.hidden
    assert t == pytest.approx(total, rel=0.005)
    assert a == pytest.approx(active, rel=0.01)


def test_deepseek_v3_by_hand():
    m = get_model("deepseek-v3")
    assert (m.attention, m.kv_lora_rank, m.qk_rope_head_dim, m.first_k_dense, m.moe_layers) == ("mla", 512, 64, 3, 58)
    assert (m.n_experts, m.experts_per_token, m.shared_ffn_hidden, m.dense_ffn_hidden) == (256, 8, 2048, 18432)
    # MLA caches the 512-wide latent plus the 64-wide RoPE key per layer: 576 x 61 elements per token
    assert kv_elements_per_token(m) == 576 * 61
    assert m.weight_dtype == "fp8"
    # one layer's attention by hand: 7168*1536 + 1536 + 1536*128*192 + 7168*576 + 512 + 512*128*256 + 128*128*7168
    from sim.scenario.architecture import attention_params
    assert attention_params(m) == 11010048 + 1536 + 37748736 + 4128768 + 512 + 16777216 + 117440512


def test_gpt_oss_sliding_layers_and_fp4_experts():
    m = get_model("gpt-oss-120b")
    assert (m.sliding_window, m.sliding_layers, m.full_attention_layers) == (128, 18, 18)
    assert m.expert_weight_dtype == "fp4" and m.weight_dtype is None


def test_opt_and_gpt2_plain_mlp_tied_embeddings():
    # issue #18: OPT-13B entered with a gated MLP and untied head became 17.3 B instead of 12.85 B
    opt = get_model("opt-13b")
    assert (opt.mlp, opt.tied_embeddings, opt.norm, opt.position_embeddings) == ("plain", True, "layernorm", 2050)
    gated = get_model({"n_layers": 40, "hidden": 5120, "n_heads": 40, "ffn_hidden": 20480, "vocab": 50272})
    assert architecture_params(gated)[0] == pytest.approx(17.3e9, rel=0.01)
    inline = get_model({"n_layers": 40, "hidden": 5120, "n_heads": 40, "ffn_hidden": 20480, "vocab": 50272,
                        "mlp": "plain", "tied_embeddings": True, "norm": "layernorm", "position_embeddings": 2050})
    assert inline.n_params == opt.n_params or inline.n_params == pytest.approx(12.85e9, rel=0.001)
    assert get_model("gpt2-xl").ffn_hidden == 4 * 1600


def test_inline_hf_config_path(tmp_path):
    src = json.loads((__import__("importlib").resources.files("sim.scenario") / "data/hf/qwen3-32b.json").read_text())
    d = tmp_path / "Qwen3-32B"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(src))
    m = get_model({"hf_config": str(d / "config.json"), "max_context": 8192})
    assert m.name == "Qwen3-32B" and m.max_context == 8192
    assert architecture_params(m) == architecture_params(get_model("qwen3-32b"))


def test_unknown_config_key_is_named(tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 128, "vocab_size": 100, "parallel_attn": True}
    with pytest.raises(InputError, match="x.json: parallel_attn: unknown key for model_type llama"):
        hf_fields(cfg, "x.json")
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    with pytest.raises(ScenarioError, match="model.hf_config: .*parallel_attn"):
        get_model({"hf_config": str(p)})


@pytest.mark.parametrize("patch,key", [
    ({"model_type": "qwen3_moe", "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
      "decoder_sparse_step": 2}, "decoder_sparse_step"),
    ({"model_type": "opt", "ffn_dim": 128, "word_embed_proj_dim": 32}, "word_embed_proj_dim"),
    ({"model_type": "falcon"}, "model_type"),
    ({"hidden_size": -1}, "hidden_size"),
])
def test_configs_the_arithmetic_cannot_express_are_refused(patch, key):
    cfg = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 128, "vocab_size": 100, **patch}
    with pytest.raises(InputError, match=f"c.json: {key}: "):
        hf_fields(cfg, "c.json")


def test_missing_or_bad_json(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        get_model({"hf_config": str(tmp_path / "nope.json")})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        get_model({"hf_config": str(tmp_path / "bad.json")})


def test_inline_mla_needs_its_ranks():
    with pytest.raises(ScenarioError, match="model.kv_lora_rank: required"):
        get_model({"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100, "attention": "mla"})
    with pytest.raises(ScenarioError, match="model.mlp: must be one of gated, plain"):
        get_model({"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100, "mlp": "swish"})


def test_doctests():
    import doctest

    import sim.scenario.architecture as arch
    import sim.scenario.hf_config as hf
    assert doctest.testmod(arch).failed == 0 and doctest.testmod(hf).failed == 0


def test_qwen2_and_mixtral_configs_as_published():
    # Qwen2.5-7B config.json values; model card: 7.61 B parameters
    qwen = {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
            "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
            "intermediate_size": 18944, "max_position_embeddings": 131072, "max_window_layers": 28,
            "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
            "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": False,
            "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": True,
            "use_sliding_window": False, "vocab_size": 152064}
    f = hf_fields(qwen)
    assert "sliding_window" not in f          # use_sliding_window: false
    from sim.scenario.architecture import ModelSpec
    m = ModelSpec(name="q", n_params=0.0, n_active_params=0.0, **{k: v for k, v in f.items() if k != "source"})
    assert architecture_params(m)[0] == pytest.approx(7.61e9, rel=0.003)
    # Mixtral-8x7B's config.json gives the catalog's hand-entered architecture
    mix = {"architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
           "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
           "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32,
           "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8, "num_local_experts": 8,
           "output_router_logits": False, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
           "router_aux_loss_coef": 0.02, "sliding_window": None, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16", "transformers_version": "4.36.0.dev0", "use_cache": True, "vocab_size": 32000}
    f = hf_fields(mix)
    cat = get_model("mixtral-8x7b")
    for k in ("n_layers", "hidden", "n_heads", "n_kv_heads", "head_dim", "ffn_hidden", "vocab", "n_experts",
              "experts_per_token", "max_context"):
        assert f[k] == getattr(cat, k), k


def test_a_family_specific_key_in_another_family_is_refused():
    # moe_layer_freq means something to DeepSeek; in a Llama config it would be silently ignored
    cfg = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 128, "vocab_size": 100, "moe_layer_freq": 2}
    with pytest.raises(InputError, match="moe_layer_freq: unknown key for model_type llama"):
        hf_fields(cfg)


HF_DATA = sorted((__import__("pathlib").Path(__file__).resolve().parents[1] / "sim/scenario/data/hf").glob("*.json"))


def _required_keys():
    """(published config, key) for every key whose absence the reader refuses."""
    from sim.scenario.hf_config import read_hf_config

    for path in HF_DATA:
        cfg = json.loads(path.read_text())
        for key in cfg:
            if key == "model_type":
                continue
            try:
                hf_fields({k: v for k, v in cfg.items() if k != key}, "c.json")
            except InputError:
                yield path, key
        read_hf_config(path)


REQUIRED = list(_required_keys())


@pytest.mark.parametrize("path,key", REQUIRED, ids=[f"{p.stem}-{k}" for p, k in REQUIRED])
def test_a_missing_required_hf_key_is_named_with_what_it_is_for(tmp_path, path, key):
    """A config.json without num_attention_heads said 'num_attention_heads: required for this model_type'
    and, besides, 'head_dim: required' (a key the file never needed): one line now, naming the file, the
    key and what the model reads it for."""
    from sim.scenario.hf_config import NEEDED, read_hf_config

    cfg = json.loads(path.read_text())
    cfg.pop(key)
    f = tmp_path / "config.json"
    f.write_text(json.dumps(cfg))
    with pytest.raises(InputError) as err:
        read_hf_config(f)
    assert str(err.value) == f"{f}: {key}: missing: {NEEDED[key]}; model_type {cfg['model_type']} requires it"


def test_every_key_said_missing_is_one_a_published_config_requires():
    """NEEDED holds no key the reader never asks for, and every required key is in it (the test above)."""
    from sim.scenario.hf_config import NEEDED

    assert {k for _, k in REQUIRED} | {"head_dim"} == set(NEEDED)
    cfg = {"model_type": "llama", "hidden_size": 100, "num_attention_heads": 3, "num_hidden_layers": 2,
           "intermediate_size": 128, "vocab_size": 100}
    with pytest.raises(InputError, match=r"^c.json: head_dim: missing: the size of one attention head .* "
                                         r"hidden_size is not a multiple of num_attention_heads"):
        hf_fields(cfg, "c.json")
    with pytest.raises(InputError, match=r"^c.json: model_type: missing: it names the architecture family"):
        hf_fields({k: v for k, v in cfg.items() if k != "model_type"}, "c.json")
