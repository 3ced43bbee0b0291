"""The default run's file order (tests/file_order.py): the longest measured files first, a file not
measured before them all, each file's tests together in their collected order; worked by hand."""
import json

from file_order import FileSeconds, file_of, load_seconds, longest_first

IDS = ["tests/test_a.py::t1", "tests/test_a.py::t2[x]", "tests/test_b.py::t1", "tests/test_c.py::C::t1",
       "tests/test_c.py::C::t2", "tests/test_d.py::t1"]


def test_file_of_a_node_id_is_its_file_as_loadfile_groups_it():
    assert [file_of(i) for i in IDS] == ["tests/test_a.py"] * 2 + ["tests/test_b.py"] + ["tests/test_c.py"] * 2 + \
        ["tests/test_d.py"]


def test_longest_first_unmeasured_files_lead():
    # a: 1 s, c: 5 s, d: 5 s (a tie: collected order), b not measured -> b, c, d, a
    order = longest_first(IDS, {"tests/test_a.py": 1.0, "tests/test_c.py": 5.0, "tests/test_d.py": 5.0})
    assert [IDS[i] for i in order] == ["tests/test_b.py::t1", "tests/test_c.py::C::t1", "tests/test_c.py::C::t2",
                                       "tests/test_d.py::t1", "tests/test_a.py::t1", "tests/test_a.py::t2[x]"]


def test_without_measurements_the_collected_order_is_kept():
    assert longest_first(IDS, {}) == list(range(len(IDS)))


def test_a_file_split_across_the_collection_runs_together():
    ids = ["tests/test_a.py::t1", "tests/test_b.py::t1", "tests/test_a.py::t2"]
    assert longest_first(ids, {"tests/test_a.py": 2.0, "tests/test_b.py": 3.0}) == [1, 0, 2]


def test_recorded_seconds_sum_by_file_and_read_back(tmp_path):
    rec = FileSeconds()
    for nid, s in [("tests/test_a.py::t1", 0.25), ("tests/test_a.py::t1", 1.5), ("tests/test_b.py::t", 3.0),
                   ("tests/test_a.py::t2", 0.5)]:
        rec.add(nid, s)
    path = tmp_path / "s.json"
    rec.write(path)
    assert list(json.loads(path.read_text())) == ["tests/test_b.py", "tests/test_a.py"]    # longest first
    assert load_seconds(path) == {"tests/test_b.py": 3.0, "tests/test_a.py": 2.2}       # 2.25 s to a tenth (half to even)


def test_a_missing_or_broken_seconds_file_orders_nothing(tmp_path):
    assert load_seconds(tmp_path / "none.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert load_seconds(tmp_path / "bad.json") == {}
    (tmp_path / "list.json").write_text("[1, 2]")
    assert load_seconds(tmp_path / "list.json") == {}
