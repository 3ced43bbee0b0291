"""Hostile input not in the hostile-input audit (:mod:`hostile_cases`): command-line flags, paths and names,
each refused with exit status 2 and one clear line naming the flag or the file and field and what is allowed
(or, for names in any script, taken)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import hostile_cases as hc
from sim.errors import printable
from sim.planning.cli_support import WORKERS_PER_CORE
from sim.planning.executors import default_workers


_main = hc.exit_status


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hc._small()))
    return path


@pytest.mark.parametrize("argv", [
    ["sweep", "--grid", "fleet.pools.0.replicas=1,2"],
    ["plan", "--vary", "fleet.pools.0.replicas=1,2"],
    ["saturation"],
    ["sweep", "--grid", "fleet.pools.0.replicas=1,2", "--executor", "dask"],
])
def test_more_workers_than_this_machine_can_run_are_refused(scenario, tmp_path, capsys, argv):
    """On main ``--workers 100000`` was taken: a sweep of 100,000 points would have started as many processes."""
    cap = WORKERS_PER_CORE * default_workers()
    rc = _main([argv[0], str(scenario), *argv[1:], "--workers", str(cap + 1), "--out", str(tmp_path / "r"),
                "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"--workers: {cap + 1:,} worker processes on this machine's ") and \
        f"is too many: at most {cap:,} ({WORKERS_PER_CORE} per core" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv", [
    ["sweep", "--grid", "fleet.pools.0.replicas=1,2"],
    ["plan", "--vary", "fleet.pools.0.replicas=1,2"],
    ["saturation"],
])
def test_workers_with_a_scheduler_are_refused_not_ignored(scenario, tmp_path, capsys, argv):
    """On main ``--workers 4 --scheduler ADDRESS`` ran on however many workers the cluster had."""
    from sim.errors import InputError
    from sim.planning.executors import WORKERS_ON_A_CLUSTER, make_executor

    rc = _main([argv[0], str(scenario), *argv[1:], "--workers", "4", "--scheduler", "tcp://127.0.0.1:1",
                "--out", str(tmp_path / "r"), "--quiet"])
    assert rc == 2 and capsys.readouterr().err == WORKERS_ON_A_CLUSTER + "\n"
    assert WORKERS_ON_A_CLUSTER.startswith("--workers: not used with --scheduler: ") and "dask worker" in \
        WORKERS_ON_A_CLUSTER
    assert not (tmp_path / "r").exists()
    with pytest.raises(InputError, match="^--workers: not used with --scheduler"):     # the Python API too
        make_executor("dask", workers=4, scheduler="tcp://127.0.0.1:1")


def test_workers_up_to_the_cap_run(scenario, tmp_path, capsys):
    cap = WORKERS_PER_CORE * default_workers()
    assert _main(["sweep", str(scenario), "--grid", "fleet.pools.0.replicas=1,2", "--workers", str(cap),
                  "--out", str(tmp_path / "r"), "--quiet", "--no-figures"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("argv,name", [
    (["run", ""], "scenario"), (["validate", " "], "scenario"),
    (["sweep", "", "--grid", "seed=1,2"], "scenario"), (["plan", "", "--vary", "fleet.pools.0.replicas=1,2"], "scenario"),
    (["saturation", ""], "scenario"), (["report", ""], "DIR"), (["reprice", ""], "RESULT_DIR"),
    (["run", "S", "--out", ""], "--out"), (["sweep", "S", "--grid", "seed=1,2", "--out", ""], "--out"),
    (["reprice", "R", "--out", ""], "--out"), (["calibrate", "", "--gpu", "h100-sxm", "--model", "llama-3-8b"], "points"),
])
def test_an_empty_path_is_refused(scenario, tmp_path, capsys, monkeypatch, argv, name):
    """``Path("")`` is ``.``: on main ``run S --out ""`` wrote its result folder into the current folder, and
    ``report ""`` read it; an empty scenario was said to be 'a folder, not a regular file'."""
    monkeypatch.chdir(tmp_path)
    argv = [str(scenario) if a == "S" else str(tmp_path) if a == "R" else a for a in argv]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert _main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fleetsim {argv[0]}: error: argument {name}: give a file or folder name (got ") and \
        len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _named(where: str, name: str) -> dict:
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 2},
                      "classes": [{"name": "chat", "share": 1, "prompt_tokens": {"dist": "fixed", "value": 200},
                                   "output_tokens": {"dist": "fixed", "value": 20}}]}
    {"name": sc, "fleet.pools.0.name": sc["fleet"]["pools"][0],
     "workload.classes.0.name": sc["workload"]["classes"][0]}[where]["name"] = name
    return sc


WHERE = ("name", "fleet.pools.0.name", "workload.classes.0.name")


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name,said", [
    ("a\nb", "'a\\nb': a line break at character 2"), ("tab\there", "'tab\\there': a tab at character 4"),
    ("nul\x00", "'nul\\x00': NUL at character 4"), ("\x1b[31mred", "'\\x1b[31mred': an escape at character 1"),
    ("\u202eevil", "'\\u202eevil': right-to-left override at character 1"),
])
def test_a_name_with_a_control_character_is_refused(tmp_path, capsys, where, name, said):
    """On main these were taken: a line break or an escape went into titles and CSV cells, a right-to-left
    override reordered what the report shows; a class's bad name also said its workload lengths were missing."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_named(where, name), allow_unicode=True))
    assert _main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}: {where}: must not hold a control character (got {said})\n"


ECONOMICS_NAMES = {
    "economics.revenue.0.name": {"revenue": [{"name": "NAME", "usd_per_request": 0.01}]},
    "economics.compute.0.pool": {"compute": [{"pool": "NAME", "usd_per_gpu_hour": 2}]},
    "economics.agreements.0.name": {"revenue": [{"name": "api", "usd_per_request": 0.01}],
                                    "agreements": [{"name": "NAME", "rate": 0.1, "base": ["api"]}]},
    "economics.agreements.0.base.0": {"agreements": [{"rate": 0.1, "base": ["NAME"]}]},
    "economics.agreements.0.reverse.base.0": {"revenue": [{"name": "api", "usd_per_request": 0.01}],
                                              "agreements": [{"rate": 0.1, "base": ["api"],
                                                              "reverse": {"rate": 0.1, "base": ["NAME"]}}]},
    "economics.credits.0.name": {"credits": [{"name": "NAME", "usd": 10}]},
    "economics.opening.0.name": {"opening": [{"name": "NAME", "kind": "payable", "usd": 1, "due": "2025-01-01"}]},
    "economics.energy.owned.0": {"energy": {"owned": ["NAME"]}},
    "economics.energy.pools.KEY": {"energy": {"pools": {"NAME": {"idle_w": 50}}}},
}


def _with(node, name: str):
    if isinstance(node, dict):
        return {(name if k == "NAME" else k): _with(v, name) for k, v in node.items()}
    if isinstance(node, list):
        return [_with(v, name) for v in node]
    return name if node == "NAME" else node


@pytest.mark.parametrize("where", ECONOMICS_NAMES)
@pytest.mark.parametrize("name,said", [
    ("a\nb", "'a\\nb': a line break at character 2"), ("\x1b[31mred", "'\\x1b[31mred': an escape at character 1"),
    ("\u202eevil", "'\\u202eevil': right-to-left override at character 1"),
])
def test_an_economics_name_with_a_control_character_is_refused_as_every_name(tmp_path, capsys, where, name, said):
    """On main the money section's names (revenue lines, agreements, credits, the pools its prices and energy
    name) took control and bidirectional characters that every other name of a scenario refuses; a key with a
    line break is written escaped, so the problem stays one line. ``reprice`` says the same."""
    sc = hc._small()
    sc["economics"] = {"gpu_hour_usd": 2, **_with(ECONOMICS_NAMES[where], name)}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc, allow_unicode=True))
    field = where.replace("KEY", printable(name, keep=""))
    assert _main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}: {field}: must not hold a control character (got {said})\n"
    sc.pop("economics")
    path.write_text(yaml.safe_dump(sc))
    assert _main(["run", str(path), "--quiet", "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    block = json.dumps({"gpu_hour_usd": 2, **_with(ECONOMICS_NAMES[where], name)})
    assert _main(["reprice", str(tmp_path / "r"), "--set", f"economics={block}", "--quiet"]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'r'}: {field}: must not hold a control character (got {said})\n"


@pytest.mark.parametrize("value", ["EUR", "usd", "[1]"])
def test_a_currency_other_than_usd_says_what_is_allowed(tmp_path, capsys, value):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hc._small()))
    assert _main(["validate", str(path), "--set", f"economics.currency={value}"]) == 2
    got = yaml.safe_load(value)
    assert capsys.readouterr().err == (
        f"{path}: economics.currency: must be USD: every price and amount is in US dollars (the *_usd fields), and "
        f"no other currency is modelled; leave currency out or give USD (got {got!r})\n")
    assert _main(["validate", str(path), "--set", "economics.currency=USD"]) == 0


def test_a_text_money_key_as_a_metric_says_what_it_holds_not_a_lookalike(tmp_path, capsys):
    """On main ``--constraint cashflow.currency<=1`` was offered ``cashflow.irr``, a number unrelated to it."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hc._small()))
    assert _main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1,2", "--constraint", "cashflow.currency<=1",
                  "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("--constraint: unknown metric cashflow.currency (cashflow.currency holds text (the currency "
                          "of every amount, USD), not a number; a metric is a number such as cashflow.net, ") \
        and "did you mean" not in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("where", WHERE)
def test_names_in_any_script_are_taken(tmp_path, capsys, where):
    name = "池 ñandú 💥 שלום"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_named(where, name), allow_unicode=True), encoding="utf-8")
    assert _main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet", "--json"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert name in json.dumps(summary, ensure_ascii=False)


@pytest.mark.parametrize("value", ['"false"', "0", '"no"'])
def test_a_hugging_face_switch_given_text_is_refused(tmp_path, capsys, value):
    """``bool("false")`` is true: on main ``"tie_word_embeddings": "false"`` tied the embeddings."""
    body = json.dumps(hc.HF_LLAMA)[:-1] + f', "tie_word_embeddings": {value}}}'
    (tmp_path / "config.json").write_text(body)
    sc = hc._small()
    sc["model"] = {"hf_config": "config.json"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    assert _main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"tie_word_embeddings: must be true or false (got {json.loads(value)!r})" in err and \
        err.startswith(f"{path}: model.hf_config: ") and len(err.splitlines()) == 1, err


def test_a_points_file_where_the_points_folder_goes_is_refused_before_any_point_runs(scenario, tmp_path, capsys):
    """On main the first point ran, then storing it failed (``FileExistsError`` on ``r/points``)."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "points").write_text("mine")
    rc = _main(["sweep", str(scenario), "--grid", "fleet.pools.0.replicas=1,2", "--out", str(tmp_path / "r"),
                "--quiet", "--executor", "serial"])
    assert rc == 2 and capsys.readouterr().err == (
        f"--out: {tmp_path / 'r' / 'points'} is not a folder: the folder of finished points of fleetsim sweep, plan "
        f"and saturation is there; move it away or give another --out\n")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["points"]
    assert (tmp_path / "r" / "points").read_text() == "mine"


@pytest.mark.parametrize("command, flag, name", [
    ("sweep", "--grid", "sweep.csv"), ("sweep", "--grid", "sweep_ci.csv"), ("sweep", "--grid", "sweep.json"),
    ("sweep", "--grid", "scenario.json"), ("plan", "--vary", "plan.csv"), ("plan", "--vary", "plan.json"),
    ("saturation", None, "saturation.csv"), ("saturation", None, "saturation.json"),
])
def test_a_folder_where_a_result_file_goes_is_refused_before_any_point_runs(scenario, tmp_path, capsys, command,
                                                                            flag, name):
    """On main every point ran, then writing the table failed (``IsADirectoryError``)."""
    (tmp_path / "r" / name).mkdir(parents=True)
    knob = [flag, "fleet.pools.0.replicas=1,2"] if flag else []
    rc = _main([command, str(scenario), *knob, "--out", str(tmp_path / "r"), "--quiet", "--executor", "serial"])
    assert rc == 2 and capsys.readouterr().err == (
        f"--out: {tmp_path / 'r' / name} is a folder: fleetsim {command} writes its {name} there once every point "
        f"has run; move the folder away or give another --out\n")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [name]      # no point ran


@pytest.mark.parametrize("command, flag", [("sweep", "--grid"), ("plan", "--vary")])
def test_a_file_where_the_figures_go_is_refused_unless_no_figures(scenario, tmp_path, capsys, command, flag):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "figures").write_text("mine")
    argv = [command, str(scenario), flag, "fleet.pools.0.replicas=1,2", "--out", str(tmp_path / "r"), "--quiet",
            "--executor", "serial"]
    assert _main(argv) == 2
    assert capsys.readouterr().err == (
        f"--out: {tmp_path / 'r' / 'figures'} is not a folder: fleetsim {command} draws its figures in a folder of "
        f"that name once every point has run; move it away, give another --out or --no-figures\n")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["figures"]
    assert _main([*argv, "--no-figures"]) == 0
    assert (tmp_path / "r" / "figures").read_text() == "mine"


@pytest.mark.parametrize("argv, said", [
    (["sweep", "--grid", "fleet.pools.0.name=a\x1b[31m,c"], "(with fleet.pools.0.name=a\\x1b[31m)"),
    (["plan", "--vary", "fleet.pools.0.replicas=1,\x1b[2J"], "(with fleet.pools.0.replicas=\\x1b[2J)"),
    (["saturation", "--constraint", "x\u202e<=1"], "(got 'x\\u202e<=1')"),
])
def test_a_planning_command_writes_a_value_given_terminal_safe(scenario, tmp_path, capsys, argv, said):
    """On main sweep, plan and saturation printed their errors raw: an escape in a --grid value reached the
    terminal (``run`` and ``validate`` escaped it)."""
    assert _main([argv[0], str(scenario), *argv[1:], "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert said in err and "\x1b" not in err and "\u202e" not in err, err


@pytest.mark.parametrize("command, flag, folder", [
    ("sweep", "--grid", "points"), ("plan", "--vary", "points"), ("saturation", None, "points"),
    ("sweep", "--grid", "figures"), ("plan", "--vary", "figures"),
])
def test_a_looping_link_where_points_or_figures_go_is_refused_before_any_point_runs(scenario, tmp_path, capsys,
                                                                                    command, flag, folder):
    """On main a looping ``points`` link warned at every point and failed after the first had run."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / folder).symlink_to(folder)
    knob = [flag, "fleet.pools.0.replicas=1,2"] if flag else []
    assert _main([command, str(scenario), *knob, "--out", str(tmp_path / "r"), "--quiet", "--executor",
                  "serial"]) == 2
    assert capsys.readouterr().err == (
        f"--out: {tmp_path / 'r' / folder} is a symbolic link that loops (it never leads to a folder): fleetsim "
        f"{command} writes its {folder} there; remove the link or give another --out\n")
    assert [p.name for p in (tmp_path / "r").iterdir()] == [folder]


@pytest.mark.parametrize("command, flag", [("sweep", "--grid"), ("plan", "--vary"), ("saturation", None)])
def test_a_read_only_result_folder_is_refused_before_any_point_runs(scenario, tmp_path, capsys, monkeypatch,
                                                                    command, flag):
    """A folder the user cannot write (``os.access`` says so; root may write anywhere, so it is asked here)
    failed at the first point's store, after that point ran."""
    import os

    (tmp_path / "r").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != tmp_path / "r" and real(p, mode, **kw))
    knob = [flag, "fleet.pools.0.replicas=1,2"] if flag else []
    assert _main([command, str(scenario), *knob, "--out", str(tmp_path / "r"), "--quiet", "--executor",
                  "serial"]) == 2
    assert capsys.readouterr().err == (
        f"--out: {tmp_path / 'r'} is not writable (a read-only folder): fleetsim {command} writes its points there "
        f"as they finish; make it writable or give another --out\n")
    assert list((tmp_path / "r").iterdir()) == []
