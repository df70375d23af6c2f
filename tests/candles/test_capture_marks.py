"""The capture marks ingest owes the candle service (the pure part, quantumflux.ingest.coverage)."""

from __future__ import annotations

from quantumflux.bus.records import CaptureMark
from quantumflux.ingest.coverage import CaptureMarks

T0 = 1_781_438_400.0


def test_a_live_capture_starts_with_its_first_records_and_beats_on_the_wall_clock():
    marks = CaptureMarks(live=True)
    assert marks.beat(T0) is None  # nothing captured yet: nothing to vouch for
    assert marks.records(T0 + 1.2) == CaptureMark("start", T0 + 1.2)
    assert marks.records(T0 + 1.3) is None
    assert marks.beat(T0 + 2.0) == CaptureMark("alive", T0 + 2.0)
    assert marks.beat(T0 + 2.0) is None  # time did not move on
    assert marks.beat(T0 + 9.0) == CaptureMark("alive", T0 + 9.0)  # a quiet market is still watched


def test_a_break_silences_the_beat_until_records_begin_a_new_coverage():
    marks = CaptureMarks(live=True)
    marks.records(T0)
    marks.restarted()  # Chrome lost, the broker's socket closed, or records dropped
    assert marks.beat(T0 + 1.0) is None
    assert marks.beat(T0 + 5.0) is None
    assert marks.records(T0 + 6.5) == CaptureMark("start", T0 + 6.5)
    assert marks.beat(T0 + 7.0) == CaptureMark("alive", T0 + 7.0)


def test_a_recording_vouches_only_for_the_frames_it_had():
    marks = CaptureMarks(live=False)
    assert marks.records(T0 + 0.5) == CaptureMark("start", T0 + 0.5)
    marks.records(T0 + 3.0)
    assert marks.beat(T0 + 86_400.0) == CaptureMark("alive", T0 + 3.0)
    assert marks.beat(T0 + 86_401.0) is None  # the recording ended: its coverage ends there
