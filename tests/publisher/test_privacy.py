"""privacy: what must be caught and what must not be."""

from __future__ import annotations

import pytest

from publisher.privacy import scan_text

CAUGHT = [
    ("connected to 192.168.1.10:8080", "privacy.ip_address"),
    ("peer 8.8.8.8", "privacy.ip_address"),
    ("bind [fe80::1ff:fe23:4567:890a]", "privacy.ip_address"),
    ("2001:db8:0:0:1:2:3:4", "privacy.ip_address"),
    ("ssh bob@build-box.local", "privacy.user_at_host"),
    ("/home/alice/models/x.gguf", "privacy.home_path"),
    ("/Users/carol/Library", "privacy.home_path"),
    ("C:\\\\Users\\\\dave\\\\model.gguf", "privacy.home_path"),
    ("C:\\Users\\erin\\x", "privacy.home_path"),
    ("/root/.cache", "privacy.home_path"),
    ("Authorization: Bearer abcdefghijklmnop1234", "privacy.secret"),
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz", "privacy.secret"),
    ("token hf_abcdefghijklmnopqrstuvwxyzABCDEF", "privacy.secret"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "privacy.secret"),
    ("aws AKIAABCDEFGHIJKLMNOP", "privacy.secret"),
    ('"api_key": "abcdefgh12345"', "privacy.secret"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "privacy.private_key"),
    ("Ünïcödé line then 10.0.0.7", "privacy.ip_address"),
]
CLEAN = [
    "http://127.0.0.1:8080/v1 and [::1]:8080 and 0.0.0.0",
    "started_at 2026-11-23T14:55:01.123456Z",
    "kernel 6.8.0-57-generic driver 550.54.15 cuda 12.4",
    "llama3.2:1b qwen2.5:0.5b-instruct-q4_K_M sha256:98ea6e4f216f",
    '"tokens_per_sec": 12.5, "completion_tokens": 45, "token_count_source": "server_usage"',
    "pip install rouge-score@0.1.2",
    "std::vector<int>",
]


@pytest.mark.parametrize(("text", "code"), CAUGHT)
def test_caught(text: str, code: str) -> None:
    hits = scan_text("first line\n" + text + "\n")
    assert [(h.code, h.line) for h in hits] == [(code, 2)]


@pytest.mark.parametrize("text", CLEAN)
def test_clean(text: str) -> None:
    assert scan_text(text) == []


def test_excerpt_is_redacted() -> None:
    (hit,) = scan_text("key sk-abcdefghijklmnopqrstuvwxyz")
    assert "mnop" not in hit.excerpt
