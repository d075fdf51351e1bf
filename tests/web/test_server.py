"""The page's safety rules, each checked before anything listens."""

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from nst import cli
from nst.errors import UserError
from nst.web import server


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_this_machine_needs_no_password(host):
    server.check_host(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "my-laptop.local"])
def test_any_other_address_refuses_to_start_without_auth(host):
    with pytest.raises(UserError, match=f"--host {host} lets other machines.*--auth"):
        server.check_host(host, None)
    server.check_host(host, "artist:long-secret")


def test_the_command_refuses_in_one_line_with_exit_2_before_loading_anything(capsys):
    assert cli.main(["web", "--host", "0.0.0.0"]) == cli.EXIT_USER_ERROR
    error = capsys.readouterr().err
    assert error.startswith("nst: error: --host 0.0.0.0") and error.count("\n") == 1


@pytest.mark.parametrize("auth", ["artist", "artist:short", ":long-enough-password"])
def test_auth_needs_a_user_and_a_real_password(auth):
    with pytest.raises(UserError, match="USER:PASSWORD"):
        server.parse_auth(auth)
    assert server.parse_auth("artist:long-enough") == ("artist", "long-enough")


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"--port {port}: can't listen there"):
            server.launch(runs=tmp_path / "runs", port=port, block=False)


@pytest.mark.slow
def test_nst_web_prints_its_address_serves_the_page_and_stops_on_ctrl_c(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "nst", "web", "--runs", str(tmp_path / "runs")],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("nst web: http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[2]
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"nst" in page.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        process.kill()
