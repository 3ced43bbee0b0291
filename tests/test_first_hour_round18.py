"""A planner's first hour, round 18: a number written as people write it in a mail (a price with its
currency sign, a rate with its unit, thousands with commas) is refused with the number to write, and
the 128K-context Llama-3.1-70B on two H100s is refused naming ``max_model_len``, as README says."""
import pytest

from sim.cli import main
from sim.scenario.load import load_scenario


@pytest.mark.parametrize("field,written,number", [
    ("economics.gpu_hour_usd", "$2.50", 2.5),
    ("economics.gpu_hour_usd", "2.50 USD/h", 2.5),
    ("workload.arrival.rate", "50req/s", 50),
    ("workload.arrival.rate", "50 rps", 50),
    ("workload.arrival.rate", "1,250.5", 1250.5),
    ("fleet.pools.0.replicas", "1,000", 1000),
])
def test_a_dressed_number_says_the_number_to_write_and_that_number_is_taken(capsys, field, written, number):
    assert main(["validate", "scenarios/baseline.yaml", "--set", f"{field}={written}"]) == 2
    err = capsys.readouterr().err
    hint = f"; write the number alone: {number}"
    assert f"scenarios/baseline.yaml: {field}: " in err and err.rstrip().endswith(hint)
    # what the hint says to write is accepted and is the number meant
    sc = load_scenario("scenarios/baseline.yaml", [f"{field}={number}"]).scenario
    node = sc.model_dump()
    for part in field.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    assert node == pytest.approx(number)


@pytest.mark.parametrize("written", ["-20%", "fast", "1,5", "$"])
def test_text_that_is_no_plain_number_gets_no_number_to_write(capsys, written):
    """A percentage may mean 20 or 0.2 (or a change): no guess; '1,5' is no thousands grouping."""
    assert main(["validate", "scenarios/baseline.yaml", "--set", f"economics.gpu_hour_usd={written}"]) == 2
    err = capsys.readouterr().err
    assert "economics.gpu_hour_usd: must be a number" in err and "write the number alone" not in err


def test_llama_31_70b_on_two_h100s_is_refused_naming_max_model_len_and_runs_with_it(capsys):
    """Its 131,072-token context needs 131,072 x 160 KiB of KV per GPU at TP2 (80 layers x 8 KV heads /
    2 x 128 x 2 bytes x K and V = 160 KiB a token), 20 GiB, more than the few GiB the weights leave of 80 GiB."""
    base = ["validate", "scenarios/baseline.yaml", "--set", "model=llama-3.1-70b",
            "--set", "fleet.pools.0.tensor_parallel=2"]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "max_model_len=131,072" in err and "set a smaller fleet.pools.0.max_model_len" in err
    assert main([*base, "--set", "fleet.pools.0.max_model_len=16384"]) == 0


@pytest.mark.parametrize("command,option", [("plan", "--vary"), ("sweep", "--grid")])
def test_the_knob_help_says_how_fields_move_together_and_keeps_hyphenated_words_whole(capsys, monkeypatch,
                                                                                      command, option):
    """README's B200 question varies a GPU and its price as one knob; --help did not say a knob could."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main([command, "--help"])
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"{option} PATH=VALUES"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("--"))
    block = lines[start:end]
    assert "PATH&PATH=A&B,C&D" in " ".join(" ".join(block).split())
    assert not any(line.rstrip().endswith("-") for line in block)     # 'comma-separated' on one line
    assert max(map(len, lines)) <= 80


@pytest.mark.parametrize("argv,said", [
    (["plan", "scenarios/baseline.yaml"], "--vary (e.g. --vary fleet.pools.0.replicas=1..64)"),
    (["sweep", "scenarios/baseline.yaml"], "--grid (e.g. --grid fleet.pools.0.replicas=4,8,16)"),
    (["run"], "scenario (scenario: a scenario file (YAML or TOML), e.g. scenarios/baseline.yaml)"),
])
def test_a_missing_argument_says_what_it_is_and_the_example_works(capsys, monkeypatch, argv, said):
    """argparse said only 'the following arguments are required: --vary'."""
    import re
    monkeypatch.delenv("COLUMNS", raising=False)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert f"error: the following arguments are required: {said}; fleetsim {argv[0]} --help lists the options" in err
    example = re.search(r"e\.g\. (\S+(?: \S+)?)\)", said).group(1).split()
    # the example is one that does what it says: the command with it validates (plan/sweep: at every knob end)
    if argv[0] == "run":
        assert main(["validate", *example]) == 0
    else:
        path, values = example[1].split("=")
        assert main(["validate", argv[1], "--set", f"{path}={values.split(',')[-1].split('..')[-1]}"]) == 0


def test_repricing_a_plan_folder_says_to_run_the_plan_at_the_price(tmp_path, capsys):
    """It said 'no usage.npz (...; run the scenario again with --out)', which a plan's folder never has."""
    out = tmp_path / "plan"
    assert main(["plan", "scenarios/baseline.yaml", "--set", "duration=20s", "--set", "warmup=0",
                 "--vary", "fleet.pools.0.replicas=1..2", "--executor", "serial", "--quiet", "--no-figures",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["reprice", str(out), "--set", "economics.gpu_hour_usd=2.0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{out}: holds the results of fleetsim plan ({out / 'command.json'}), not one run's")
    assert "run it again with --set economics.gpu_hour_usd=... and another --out" in err
    assert "no usage.npz" not in err


def test_validate_names_max_model_len_also_when_the_pool_leaves_it_to_the_model(capsys):
    """It printed 'at max_context=131,072', a key no pool takes; the field to set is max_model_len."""
    argv = ["validate", "scenarios/baseline.yaml", "--set", "model=llama-3.1-70b", "--set", "fleet.pools.0.tensor_parallel=4"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "at max_model_len=131,072 (unset: the model's context)," in out and "max_context" not in out
    assert main([*argv, "--set", "fleet.pools.0.max_model_len=16384"]) == 0
    out = capsys.readouterr().out
    assert "at max_model_len=16,384, up to 256 (max_num_seqs)" in out and "unset" not in out
