"""benchmarks/class_bench.py: the class benchmark's checks and report, without starting a hub (tests/test_hub.py
starts one and drives a kernel through the same client)."""

import json
import struct
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import class_bench  # noqa: E402


def test_a_class_too_large_for_the_memory_is_refused_with_the_estimate():
    with pytest.raises(SystemExit) as err:
        class_bench.check_memory([1, 5, 40], available=8 * 1024)  # 8 GB available
    message = str(err.value)
    need = (40 * class_bench.STUDENT_MB + class_bench.HUB_MB) / 1024
    fits = int((0.9 * 8 * 1024 - class_bench.HUB_MB) // class_bench.STUDENT_MB)
    ja, en = message.splitlines()
    assert "40 人は入りません" in ja and f"{need:.1f} GB" in ja and f"{fits} 人以下" in ja
    assert "40 students do not fit" in en and f"{need:.1f} GB" in en and f"at most {fits} students" in en


def test_a_class_that_fits_is_let_through():
    class_bench.check_memory([1, 5, 10], available=16 * 1024)  # no exception


def test_binary_kernel_messages_are_read_as_jupyter_server_sends_them():
    msg = {"header": {"msg_type": "comm_msg"}, "parent_header": {"msg_id": "abc"}, "content": {"comm_id": "x"}}
    body, picture = json.dumps(msg).encode(), b"\x89PNG" + bytes(100)
    offsets = [4 * 3, 4 * 3 + len(body)]
    packed = struct.pack("!III", 2, *offsets) + body + picture
    assert class_bench.unpack(packed) == msg
    assert class_bench.unpack(json.dumps(msg)) == msg


def row(students, p95, failures=(), per_student=440.0):
    return {"students": students, "moves": 10 * students, "p50_ms": p95 / 2, "p95_ms": p95,
            "failures": list(failures), "kernel_mb": 340.0 * students, "per_student_mb": per_student,
            "hub_mb": 100.0, "proxy_mb": 50.0, "trained_epochs": 0, "kernels": students}


def test_headlines_take_the_largest_class_within_the_target_and_without_failures():
    rows = [row(1, 80), row(5, 120), row(10, 240), row(20, 260), row(40, 900)]
    heads = class_bench.headlines(rows, cores=2)
    assert heads["largest_class_within_target"] == 10 and heads["students_per_core"] == 5.0
    rows[2] = row(10, 240, failures=["bench-03: server: did not start"])
    assert class_bench.headlines(rows, cores=2)["largest_class_within_target"] == 5
    assert class_bench.headlines([row(1, 300)], cores=2)["students_per_core"] == 0.0
    assert class_bench.headlines(rows, cores=2)["gb_per_student"] == pytest.approx(440 / 1024)


def test_the_results_page_gets_its_own_section_and_keeps_the_rest(tmp_path, monkeypatch):
    page = tmp_path / "results.md"
    page.write_text("# Results\n\n## make bench\n\nother numbers\n")
    monkeypatch.setattr(class_bench, "RESULTS", page)
    settings = {"date": "2026-12-02", "seconds": 60, "interval": 0.5, "memory_gb": 23}
    rows = [row(1, 80), row(5, 300)]
    class_bench.write_results(rows, class_bench.headlines(rows, 2), settings)
    first = page.read_text()
    assert first.startswith("# Results\n\n## make bench\n\nother numbers\n")
    assert first.count(class_bench.START) == 1 and "| 5 | 50 | 150 | 300 |" in first
    assert "Students per CPU core at p95 <= 250 ms: **0.5**" in first and "**0.43 GB**" in first
    class_bench.write_results(rows[:1], class_bench.headlines(rows[:1], 2), settings)  # a second run replaces it
    second = page.read_text()
    assert second.count(class_bench.START) == 1 and "| 5 | 50 |" not in second and "other numbers" in second
