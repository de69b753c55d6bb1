"""Issue 10 §5 / 14 §2, §4: settings validated, a TOML file, config show/check, --version."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import aiohttp
import pytest

from ocn_core import config
from ocpi_gateway.cli import build_parser, load_settings, version
from tests.support.node import free_port, running_node
from tests.support.process import ocn_node, start_node

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.mark.parametrize(
    ("env", "flags", "expected"),
    [
        ({"OCN_SIGNATURES": "enabled"}, [], "OCN_SIGNATURES=enabled: expected a boolean"),
        (
            {"OCN_REGISTRY": "etherium"},
            [],
            "OCN_REGISTRY=etherium: expected one of local, ethereum",
        ),
        ({}, ["--port", "99999"], "--port=99999: expected an integer >= 1 and <= 65535"),
        ({}, ["--log-level", "verbose"], "--log-level=verbose: expected one of debug, info"),
        ({"OCN_PORT": "abc"}, [], "OCN_PORT=abc: expected an integer >= 1 and <= 65535"),
        ({"OCN_PROXY_TTL": "inf"}, [], "OCN_PROXY_TTL=inf: expected a finite number > 0"),
        ({"OCN_REGISTRY": "ethereum"}, [], "OCN_RPC_URL / --rpc-url is required"),
        ({"OCN_COUNTRY_CODE": "CHE"}, [], "OCN_COUNTRY_CODE=CHE: expected 2 letters"),
        ({"OCN_PRIVATE_KEY": "not-a-key"}, [], "OCN_PRIVATE_KEY=(hidden): expected 64 hex"),
        ({}, ["--public-url", "ftp://x"], "--public-url=ftp://x: expected an http(s) base URL"),
    ],
)
def test_invalid_settings_are_refused_naming_the_source_and_what_is_accepted(
    tmp_path: Path, env: dict[str, str], flags: list[str], expected: str
) -> None:
    out = ocn_node("run", "--data-dir", str(tmp_path / "d"), *flags, env=env)
    assert out.returncode == 2
    assert out.stderr.startswith("ocn-node: error: invalid settings")
    assert expected in out.stderr
    assert "Traceback" not in out.stderr
    assert "not-a-key" not in out.stderr  # secrets are never echoed
    assert not (tmp_path / "d").exists()  # nothing was started or created


def test_an_unknown_ocn_variable_is_warned_about() -> None:
    out = ocn_node("config", "show", env={"OCN_SIGNATURE": "1", "OCN_CORE_NO_EXTENSIONS": "1"})
    assert out.returncode == 0
    assert out.stderr.strip() == (
        "ocn-node: warning: OCN_SIGNATURE is not a setting and is ignored "
        "(did you mean OCN_SIGNATURES?)"
    )
    assert "signatures = false  # default" in out.stdout


@pytest.mark.parametrize("ttl", ["inf", "nan", "1e308", "-5", "0", "soon"])
def test_cli_token_ttl_must_be_finite_positive_and_capped(tmp_path: Path, ttl: str) -> None:
    out = ocn_node("admin", "token", "NL:ABC:CPO", "--ttl", ttl, "--data-dir", str(tmp_path))
    assert out.returncode == 1
    message = json.loads(out.stderr)["message"]
    assert message.startswith("ttl must be")
    assert "31536000" in message or "number" in message


async def test_admin_api_token_ttl_must_be_finite_positive_and_capped(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        roles = [{"country_code": "NL", "party_id": "ABC"}]
        for ttl in (-5, 0, 1e308, "inf", True):
            status, body = await node.admin(
                "POST", "/admin/generate-registration-token", {"roles": roles, "ttl_seconds": ttl}
            )
            assert status == 400, (ttl, body)
            assert body["message"].startswith("ttl must be"), body
        async with aiohttp.ClientSession(headers=node.admin_headers) as http:
            for raw in ("NaN", "Infinity", "1" + "0" * 400):  # not JSON doubles at all
                body = '{"roles": [{"country_code": "NL", "party_id": "ABC"}], "ttl_seconds": '
                url = node.url + "/admin/generate-registration-token"
                async with http.post(url, data=body + raw + "}") as r:
                    assert r.status == 400
                    assert (await r.json())["message"].startswith("Body is not valid JSON")
        status, body = await node.admin(
            "POST", "/admin/generate-registration-token", {"roles": roles, "ttl_seconds": 60}
        )
        assert status == 200
        assert math.isclose(body["expires_at"], time.time() + 60, abs_tol=5)


def test_a_config_file_with_env_and_flags_on_top(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "d"
    file = tmp_path / "node.toml"
    file.write_text(
        f'data_dir = "{data}"\nport = {port}\nlog_level = "debug"\n'
        'api_key = "file-secret"\nworkers = 3\nsignatures = true\n'
    )
    out = ocn_node(
        "config", "show", "--config", str(file), "--log-level", "warning",
        env={"OCN_WORKERS": "2", "OCN_RPC_URL": "https://user:rpc-secret@chain.example"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    shown = {line.split(" = ")[0]: line.split(" = ", 1)[1] for line in out.stdout.splitlines()[1:]}
    assert shown["port"] == f"{port}  # {file}: port"
    assert shown["workers"] == "2  # OCN_WORKERS"  # env over file
    assert shown["log_level"] == '"warning"  # --log-level'  # flag over env and file
    assert shown["signatures"] == f"true  # {file}: signatures"
    assert shown["public_url"] == f'"http://127.0.0.1:{port}"  # derived from host and port'
    assert shown["api_key"].startswith('"********"')
    assert shown["rpc_url"].startswith('"********"')
    assert "secret" not in out.stdout
    out = ocn_node("config", "show", env={"OCN_CONFIG": str(file)})  # the file named by env
    assert f"port = {port}  # {file}: port" in out.stdout

    # the node really runs on the file's port and data dir, its URL following the port
    node = start_node(data, workers=1, port=port, config=file)
    try:
        _, body = node.get("/ocn/registry/node-info")
        assert json.loads(body)["url"] == f"http://127.0.0.1:{port}"
        assert (data / "node.lock").exists()
        assert node.stop() == 0
    finally:
        node.kill()


def test_config_check_validates_a_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('port = 8443\nregistry = "local"\nproxy_ttl = 3600\n')
    bad.write_text('port = "x"\nwrkers = 2\nregistration_token_ttl = -1\nlog_format = "xml"\n')
    out = ocn_node("config", "check", str(good))
    assert (out.returncode, out.stdout.strip()) == (0, f"{good}: valid")
    out = ocn_node("config", "check", str(bad))
    assert out.returncode == 2
    problems = [line.strip() for line in out.stderr.splitlines()[1:]]
    assert problems == [
        f"- {bad}: unknown setting 'wrkers' (did you mean 'workers'?)",
        f"- {bad}: port=x: expected an integer >= 1 and <= 65535",
        f"- {bad}: registration_token_ttl=-1: expected a finite number > 0 and <= 31536000",
        f"- {bad}: log_format=xml: expected one of auto, json, console",
    ]
    (tmp_path / "broken.toml").write_text("port = = 1")
    out = ocn_node("config", "check", str(tmp_path / "broken.toml"))
    assert out.returncode == 2
    assert "not valid TOML" in out.stderr


def test_the_configuration_reference_is_generated_and_current() -> None:
    out = ocn_node("config", "reference")
    assert out.returncode == 0
    assert out.stdout == config.reference_markdown()
    assert DOC.read_text() == out.stdout, "run: ocn-node config reference > docs/configuration.md"
    documented = config.docs()
    for f in config.settings_fields():
        assert documented.get(f.name), f"Settings.{f.name} needs a comment (it is its doc)"
        assert str(f.type) in ("bool", "int", "float", "str", "Path"), (
            f"Settings.{f.name}: only bool, int, float, str and Path settings are parsed"
        )
        assert f"| `{f.name}` | `OCN_{f.name.upper()}` |" in DOC.read_text()


def _command_paths(parser: argparse.ArgumentParser, path: list[str]) -> list[list[str]]:
    paths = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                paths += _command_paths(child, [*path, name])
    return paths


def test_version_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    paths = _command_paths(parser, [])
    assert len(paths) > 25
    for path in paths:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([*path, "--version"])
        assert done.value.code == 0
        assert capsys.readouterr().out.strip() == f"ocn-node {version()}", path
    out = ocn_node("registry", "status", "--version")
    assert (out.returncode, out.stdout.strip()) == (0, f"ocn-node {version()}")


@pytest.mark.parametrize(
    "argv",
    [
        ["--data-dir", "X", "admin", "platforms"],
        ["admin", "--data-dir", "X", "platforms"],
        ["admin", "platforms", "--data-dir", "X"],
        ["--data-dir", "X", "registry", "status"],
        ["registry", "--data-dir", "X", "status"],
        ["registry", "status", "--data-dir", "X"],
        ["run", "--data-dir", "X"],
        ["config", "show", "--data-dir", "X"],
    ],
)
def test_data_dir_before_or_after_the_subcommand(argv: list[str]) -> None:
    settings, origins = load_settings(build_parser().parse_args(argv))
    assert (settings.data_dir, origins["data_dir"]) == (Path("X"), "--data-dir")
