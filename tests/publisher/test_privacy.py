"""privacy: the rule set as data, what must be caught and what must not, linear work on hostile
input, and values hidden behind JSON escapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publisher import publish as pipeline
from publisher.errors import RunsInvalidError
from publisher.frontend import privacy
from publisher.frontend.compile import Options, compile_run
from publisher.frontend.privacy import RULES, WORK, scan, scan_blob
from tests.synthetic import make_run


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_each_rule_flags_its_example_and_not_its_counterexample(rule: privacy.Rule) -> None:
    assert rule.name in {h.rule for h in scan([rule.example])}
    assert rule.code not in {h.code for h in scan([rule.counterexample])}


def test_rule_names_are_unique_and_codes_registered() -> None:
    from publisher.frontend.finding import CODES

    assert len({r.name for r in RULES}) == len(RULES)
    assert {r.code for r in RULES} <= set(CODES)


CAUGHT = [
    ("connected to 192.168.1.10:8080", "privacy.ip_address"),
    ("peer 8.8.8.8", "privacy.ip_address"),
    ("could not connect to 192.168.1.20.", "privacy.ip_address"),  # followed by a full stop
    ("host_10.0.0.5 answered", "privacy.ip_address"),  # after an underscore
    ("bind [fe80::1ff:fe23:4567:890a]", "privacy.ip_address"),
    ("2001:db8:0:0:1:2:3:4", "privacy.ip_address"),
    ("listening on fe80::1.", "privacy.ip_address"),  # IPv6 followed by a full stop
    ("eth0 ether 3c:22:fb:8a:01:9e", "privacy.mac_address"),
    ("nic 3C-22-FB-8A-01-9E", "privacy.mac_address"),
    ("ssh bob@build-box.local", "privacy.user_at_host"),
    ("mail alice+bench@example.org", "privacy.user_at_host"),  # an e-mail with +
    ("/home/alice/models/x.gguf", "privacy.home_path"),
    ("/Users/carol/Library", "privacy.home_path"),
    ("C:\\\\Users\\\\dave\\\\model.gguf", "privacy.home_path"),
    ("C:\\Users\\erin\\x", "privacy.home_path"),
    ("/root/.cache", "privacy.home_path"),
    ("Authorization: Bearer abcdefghijklmnop1234", "privacy.secret"),
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz", "privacy.secret"),
    ("DB_PASSWORD=hunter2hunter2", "privacy.secret"),  # \b used to fail after _
    ("OPENAI_API_KEY=abcdefgh12345", "privacy.secret"),
    ("token hf_abcdefghijklmnopqrstuvwxyzABCDEF", "privacy.secret"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "privacy.secret"),
    ("aws AKIAABCDEFGHIJKLMNOP", "privacy.secret"),
    ("aws ASIAY34FZKBOKMUTVV7A", "privacy.secret"),  # a temporary AWS key
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "privacy.secret"),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "privacy.secret",
    ),
    ('"api_key": "abcdefgh12345"', "privacy.secret"),
    ("ſecret=abcdefghijk", "privacy.secret"),  # Unicode case folding: ſ is s
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "privacy.private_key"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----", "privacy.private_key"),
    ("Ünïcödé line then 10.0.0.7", "privacy.ip_address"),
]
CLEAN = [
    "http://127.0.0.1:8080/v1 and [::1]:8080 and 0.0.0.0",
    "started_at 2026-11-23T14:55:01.123456Z",
    "kernel 6.8.0-57-generic driver 550.54.15 cuda 12.4",
    "kernel 5.15.153.1-microsoft-standard-WSL2",
    "llama3.2:1b qwen2.5:0.5b-instruct-q4_K_M sha256:98ea6e4f216f",
    '"tokens_per_sec": 12.5, "completion_tokens": 45, "token_count_source": "server_usage"',
    "pip install rouge-score@0.1.2",
    "image vllm/vllm-openai@sha256:0f3e",
    "std::vector<int>",
    '"task_id": "summarization", "joules_per_output_token": 0.5',
    "00:00:00:00:00:00",
]


@pytest.mark.parametrize(("text", "code"), CAUGHT)
def test_caught(text: str, code: str) -> None:
    hits = scan_blob(("first line\n" + text + "\n").encode())
    assert {(h.code, h.index) for h in hits} == {(code, 1)}


@pytest.mark.parametrize("text", CLEAN)
def test_clean(text: str) -> None:
    assert scan([text]) == []


def test_excerpt_is_redacted() -> None:
    (hit,) = scan(["key sk-abcdefghijklmnopqrstuvwxyz"])
    assert "mnop" not in hit.excerpt


MIB = 1 << 20
ADVERSARIAL = {
    "long word before @": " " + "a" * MIB + " @",  # ~52 s with the old user@host pattern
    "many @": " a@" * (MIB // 3),
    "many users at hosts": "a@b " * (MIB // 4),
    "many dotted quads": "1.2.3 " * (MIB // 6),
    "many colons": "1:" * (MIB // 2),
    "long hex run": "ab:" * (MIB // 3),
    "many loopback IPs": "127.0.0.1 " * (MIB // 10),
    "many keys": "api_key=" * (MIB // 8),
    "one line per @": "x\n@" * (MIB // 3),
    "dots": "." * MIB,
}


@pytest.mark.parametrize("text", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_work_is_linear_on_hostile_input(text: str) -> None:
    """A bound on work, not on time: every stage reads the input a fixed number of times
    (RE2 cannot backtrack; no stage rescans from each candidate)."""
    data = text.encode()
    WORK.reset()
    scan_blob(data)
    assert WORK.combined <= len(data)
    assert WORK.rules <= (len(RULES) + 1) * len(data)
    assert WORK.checks <= len(data)


def test_every_pattern_runs_under_re2() -> None:
    """RE2 refuses what needs backtracking (backreferences, lookaround): compiling is the proof."""
    import re2

    for rule in RULES:
        re2.compile(rule.pattern)
        re2.compile(rule.trigger)
        assert re2.search(rule.trigger, rule.example), rule.name  # the trigger is a superset


ESCAPED = r"alice\u0040devbox 10\u002e1\u002e2\u002e3 \/home\/alice"


def test_json_escapes_do_not_hide_private_data(tmp_path: Path) -> None:
    """The raw bytes hid `alice@devbox 10.1.2.3 /home/alice`; the decoded value was published."""
    run = make_run(tmp_path, seed=3)
    path = run / "metadata.json"
    text = path.read_text()
    md = json.loads(text)
    version = md["cells"][0]["engine_version"]
    raw = text.replace(json.dumps(version), '"' + ESCAPED + '"', 1)
    assert raw != text and "@" not in raw.split("engine_version")[1][:60]
    path.write_text(raw)
    artifact = compile_run(run, Options(allow_synthetic=True))
    found = {(f.code, f.file) for f in artifact.findings}
    assert {
        ("privacy.user_at_host", "metadata.json"),
        ("privacy.ip_address", "metadata.json"),
        ("privacy.home_path", "metadata.json"),
    } <= found
    assert artifact.tables is None  # nothing of it can be published


def test_a_value_shadowed_by_a_duplicate_key_is_scanned(tmp_path: Path) -> None:
    run = make_run(tmp_path, seed=3)
    path = run / "metadata.json"
    text = path.read_text()
    shadowed = text.replace('"host_label":', '"host_label": "bob\\u0040devbox", "host_label":', 1)
    path.write_text(shadowed)
    found = {f.code for f in compile_run(run, Options(allow_synthetic=True)).findings}
    assert "privacy.user_at_host" in found


def test_publish_refuses_escaped_private_data(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = make_run(runs, seed=3)
    log = run / "run.jsonl"
    lines = log.read_text().splitlines()
    call = json.loads(lines[1])
    call["error"] = "x"  # replaced below by an escaped value
    lines[1] = json.dumps(call).replace(
        '"error": "x"', '"error": "peer 192\\u002e168\\u002e1\\u002e9"'
    )
    log.write_text("\n".join(lines) + "\n")
    config = pipeline.PublishConfig(runs, tmp_path / "out", tmp_path / "c.json", None, True)
    with pytest.raises(RunsInvalidError) as info:
        pipeline.publish(config)
    assert "privacy.ip_address" in {f.code for f in info.value.findings}
    assert not (tmp_path / "c.json").exists()
