"""nst.runs.interrupts.call_attentively: the run's work in a worker thread, as if called
directly."""

import threading

import pytest

from nst.runs.interrupts import call_attentively


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
