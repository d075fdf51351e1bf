"""nst.runs.interrupts.call_attentively: the run's work in a worker thread, as if called
directly."""

import threading

import pytest

from nst.runs.interrupts import RunInterrupted, StopRequests, call_attentively


def test_the_result_comes_back_from_a_worker_thread():
    threads = []

    def work():
        threads.append(threading.current_thread())
        return 42

    assert call_attentively(work) == 42
    assert threads[0] is not threading.main_thread()  # so the main thread can take signals


def test_an_exception_comes_back_as_raised():
    error = KeyError("missing")

    def work():
        raise error

    with pytest.raises(KeyError) as raised:
        call_attentively(work)
    assert raised.value is error


def test_an_event_set_from_another_thread_asks_for_a_stop_as_a_signal_does(tmp_path):
    event = threading.Event()
    with StopRequests(event) as requests:
        assert not requests.requested
        threading.Thread(target=event.set).start()
        assert event.wait(5) and requests.requested and requests.signal_number is None
    stopped = RunInterrupted(None, tmp_path)
    assert str(stopped) == "stopped on request" and stopped.exit_code == 130
