"""Reading a job log by byte offset (the job page's live log)."""

from __future__ import annotations

from pathlib import Path

from pytest_rime.server.web.joblog import LogChunk, read_chunk, read_tail


def test_chunks_end_on_whole_characters_and_join_to_the_log(tmp_path: Path) -> None:
    text = "épreuve ✓ 🚀 fin\n" * 50
    log = tmp_path / "log.txt"
    log.write_text(text, encoding="utf-8")
    parts, offset = [], 0
    while True:
        chunk = read_chunk(log, offset, max_bytes=7)
        assert "\ufffd" not in chunk.text and len(chunk.text.encode()) <= 7
        parts.append(chunk.text)
        offset = chunk.offset
        if chunk.at_end:
            break
    assert "".join(parts) == text and offset == len(text.encode())


def test_a_log_that_grows_is_read_from_where_the_last_read_ended(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    assert read_chunk(log, 0) == LogChunk("", 0, True)  # not started yet
    log.write_text("one\n")
    first = read_chunk(log, 0)
    with log.open("a") as more:
        more.write("two\n")
    assert read_chunk(log, first.offset) == LogChunk("two\n", 8, True)


def test_an_offset_past_the_end_means_the_log_was_rewritten(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("[rime server] 900 bytes of earlier log dropped\nlast\n")
    chunk = read_chunk(log, 10_000)
    assert chunk.reset and chunk.offset == log.stat().st_size
    assert chunk.text.startswith("[rime server] 900 bytes")


def test_the_tail_starts_on_a_character(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("a" + "✓" * 10, encoding="utf-8")  # 31 bytes
    tail = read_tail(log, max_bytes=8)
    assert tail.text == "✓✓" and tail.offset == 31 and tail.at_end
    assert read_tail(tmp_path / "missing.txt") == LogChunk("", 0, True)
