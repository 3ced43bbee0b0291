"""Catalog lookups and numbers against datasheets and published model configs."""
import pytest

from sim.errors import ScenarioError
from sim.scenario.catalog import architecture_params, get_gpu, get_model, gpu_names, model_names

REQUIRED_GPUS = {"a100-80gb", "h100-sxm", "h200-sxm", "b200", "mi300x"}
REQUIRED_MODELS = {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "mixtral-8x7b",
                   "llama-3.3-70b"}


def test_catalog_has_required_names():
    assert REQUIRED_GPUS <= set(gpu_names())
    assert REQUIRED_MODELS <= set(model_names())


@pytest.mark.parametrize("name", sorted(REQUIRED_MODELS))
def test_published_param_counts_match_architecture(name):
    # Published counts (HF model cards: 6.74B, 13.0B, 69.0B, 8.03B, 70.6B, Mixtral 46.7B total / 12.9B active)
    m = get_model(name)
    total, active = architecture_params(m)
    assert total == pytest.approx(m.n_params, rel=0.01)
    assert active == pytest.approx(m.n_active_params, rel=0.01)


def test_datasheet_numbers():
    # NVIDIA H100 SXM datasheet: 989 TFLOPS bf16 dense, 3.35 TB/s, NVLink4 900 GB/s bidirectional.
    h = get_gpu("h100-sxm")
    assert (h.bf16_tflops, h.fp8_tflops, h.hbm_tbps, h.interconnect_gbps) == (989, 1979, 3.35, 450)
    assert get_gpu("a100-80gb").fp8_tflops is None
    assert get_gpu("b200").fp4_tflops == 9000


def test_gpu_without_precision_says_what_is_supported():
    with pytest.raises(ValueError, match="supported: bf16"):
        get_gpu("a100-80gb").peak_tflops("fp8")


def test_llama33_shares_llama3_70b_architecture():
    a, b = get_model("llama-3.3-70b"), get_model("llama-3-70b")
    assert (a.n_layers, a.hidden, a.n_heads, a.n_kv_heads, a.ffn_hidden, a.vocab) == \
        (b.n_layers, b.hidden, b.n_heads, b.n_kv_heads, b.ffn_hidden, b.vocab)
    assert a.max_context == 131072


def test_unknown_names_list_the_allowed_ones():
    with pytest.raises(KeyError, match="h100-sxm"):
        get_gpu("h100")
    with pytest.raises(KeyError, match="llama-2-7b"):
        get_model("llama-7b")


def test_inline_model_defaults_and_param_count():
    m = get_model({"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100})
    assert (m.n_kv_heads, m.head_dim, m.n_experts) == (4, 16, 1)
    # by hand: per layer 4*64*64 attn + 3*64*128 mlp + 2*64 norms = 16384+24576+128; x2 layers;
    # + embedding and lm head 2*100*64 + final norm 64
    assert m.n_params == 2 * (16384 + 24576 + 128) + 12800 + 64


def test_inline_model_problems_name_fields():
    with pytest.raises(ScenarioError) as exc:
        get_model({"n_layers": 0, "hidden": 64, "n_heads": 4, "vocab": 100, "colour": "red"})
    paths = {p for p, _ in exc.value.problems}
    assert {"model.n_layers", "model.ffn_hidden", "model.colour"} <= paths
    with pytest.raises(ScenarioError, match="must divide n_heads=4"):
        get_model({"n_layers": 1, "hidden": 64, "n_heads": 4, "n_kv_heads": 3, "ffn_hidden": 8, "vocab": 10})


def test_every_gpu_has_a_smooth_roofline_exponent_between_sum_and_max():
    # fitted on Vidur's A100 and H100 GEMM profiles (other GPUs reuse their family's); 1 = sum, inf = max
    for name in gpu_names():
        assert 1.0 <= get_gpu(name).overlap_exponent < 10.0


def test_2026_gpus_datasheet_numbers():
    # dense figures from the datasheets cited in gpus.yaml
    assert {"h20", "l40s", "mi325x", "mi355x", "b300"} <= set(gpu_names())
    assert (get_gpu("h20").bf16_tflops, get_gpu("h20").hbm_gb, get_gpu("h20").hbm_tbps) == (148, 96, 4.0)
    assert (get_gpu("l40s").fp8_tflops, get_gpu("l40s").hbm_tbps) == (733, 0.864)
    assert (get_gpu("mi325x").hbm_gb, get_gpu("mi325x").hbm_tbps) == (256, 6.0)
    assert (get_gpu("mi355x").fp4_tflops, get_gpu("mi355x").hbm_gb) == (10066, 288)
    assert (get_gpu("b300").fp4_tflops, get_gpu("b300").hbm_gb) == (13500, 288)
    assert get_gpu("gb200").gpus_per_node == 72 and get_gpu("h100-sxm").gpus_per_node == 8


def test_attention_kernel_efficiencies_are_the_published_rates_over_the_dense_peak():
    # FlashAttention-3 616 and FlashMLA 660 TFLOPS over H100's 989; FlashMLA's SM100 prefill 1,460 and CUTLASS MLA 969
    # over B200's 2,250 (sim/scenario/data/gpus.yaml cites each)
    for name, prefill, decode in (("h100-sxm", 616 / 989, 660 / 989), ("b200", 1460 / 2250, 969 / 2250)):
        g = get_gpu(name)
        assert g.attention_prefill_efficiency == pytest.approx(prefill, abs=5e-4)
        assert g.attention_decode_efficiency == pytest.approx(decode, abs=5e-4)
    for name in ("h200-sxm", "h100-pcie", "h20"):
        assert get_gpu(name).attention_decode_efficiency == get_gpu("h100-sxm").attention_decode_efficiency
    for name in ("gb200", "b300"):
        assert get_gpu(name).attention_prefill_efficiency == get_gpu("b200").attention_prefill_efficiency
    # no published rate: the weights' calibrated factor, whichever precision they are in
    a100, mi300x = get_gpu("a100-80gb"), get_gpu("mi300x")
    assert a100.attention_efficiency("prefill", a100.efficiency("bf16")) == 0.707
    assert mi300x.attention_efficiency("decode", mi300x.efficiency("fp8")) == 0.336


def test_inline_gpu_inherits_and_checks_the_attention_efficiencies():
    g = get_gpu({"name": "x", "like": "b200", "attention_decode_efficiency": 0.5})
    assert (g.attention_prefill_efficiency, g.attention_decode_efficiency) == (0.649, 0.5)
    with pytest.raises(ScenarioError, match=r"gpu.attention_prefill_efficiency.*fraction in \(0, 1\]"):
        get_gpu({"like": "h100-sxm", "attention_prefill_efficiency": 1.5})


def test_unmeasured_gpus_reuse_the_measured_sets_they_name():
    # gpus.yaml: a GPU or precision without a measurement takes its closest measured relative's factors (stated per
    # entry), so a refit of H100 fp8, B200 fp4 or MI300X fp8 must reach every entry that reuses it
    h100, b200 = get_gpu("h100-sxm"), get_gpu("b200")
    for name in ("h100-pcie", "h200-sxm", "b200", "gb200", "h20", "l40s", "mi355x", "b300"):
        assert get_gpu(name).efficiency("fp8") == h100.efficiency("fp8"), name
    for name in ("gb200", "mi355x", "b300"):
        assert get_gpu(name).efficiency("fp4") == b200.efficiency("fp4"), name
    assert get_gpu("mi325x").efficiency("fp8") == get_gpu("mi300x").efficiency("fp8")
    for name in gpu_names():
        if name != "a100-80gb":
            assert get_gpu(name).efficiency("bf16") == h100.efficiency("bf16"), name
