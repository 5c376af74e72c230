"""Secret values are redacted in every configuration form; everything else is kept verbatim."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mmgate.audit.redact import (
    REDACTED,
    config_log_record,
    is_secret_key,
    redact_config_text,
)
from mmgate.records.hashing import sha256_text
from mmgate.records.reports import validate_record

SECRET = "s3cr3t-VALUE_42"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "DB_PASSWORD",
        "secret",
        "client_secret",
        "token",
        "GITHUB_TOKEN",
        "api_key",
        "API-KEY",
        "apikey",
        "ApiKey",
        "auth",
        "Authorization",
        "credential",
        "aws_credentials",
        "private_key",
        "ssh-private-key",
        "passwd",
    ],
)
def test_keys_that_look_like_secrets_are_recognised_case_insensitively(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["top1_min", "seed", "text_noise", "model", "host", "port", "username"])
def test_ordinary_keys_are_not_secrets(key: str) -> None:
    assert not is_secret_key(key)


FORMS = {
    "toml_double_quoted": (f'api_key = "{SECRET}"', f'api_key = "{REDACTED}"'),
    "toml_single_quoted": (f"password = '{SECRET}'", f"password = '{REDACTED}'"),
    "toml_bare_number": ("token = 123456789", f"token = {REDACTED}"),
    "toml_inline_table": (
        f'db = {{ user = "u", password = "{SECRET}", port = 5 }}',
        f'db = {{ user = "u", password = "{REDACTED}", port = 5 }}',
    ),
    "toml_triple_quoted": (
        f'private_key = """\n{SECRET}\nmore\n"""\nseed = 1',
        f'private_key = "{REDACTED}"\nseed = 1',
    ),
    "toml_dotted_key": (f'db.password = "{SECRET}"', f'db.password = "{REDACTED}"'),
    "json_string": (f'{{"name": "x", "token": "{SECRET}", "n": 1}}', f'{{"name": "x", "token": "{REDACTED}", "n": 1}}'),
    "json_number": ('{"apiKey": 987654321, "n": 1}', f'{{"apiKey": "{REDACTED}", "n": 1}}'),
    "json_nested_object": (
        f'{{"auth": {{"user": "a", "pw": "{SECRET}"}}, "n": 1}}',
        f'{{"auth": "{REDACTED}", "n": 1}}',
    ),
    "json_multiline": (
        f'{{\n  "Credentials": {{\n    "pw": "{SECRET}"\n  }},\n  "n": 1\n}}',
        f'{{\n  "Credentials": "{REDACTED}",\n  "n": 1\n}}',
    ),
    "json_escaped_quote": ('{"secret": "a\\"' + SECRET + '", "n": 1}', f'{{"secret": "{REDACTED}", "n": 1}}'),
    "ini_equals": (
        f"[db]\nhost = localhost\npassword = {SECRET} with spaces",
        f"[db]\nhost = localhost\npassword = {REDACTED}",
    ),
    "ini_colon": (f"Password: {SECRET}", f"Password: {REDACTED}"),
    "ini_commented_out": (f"; secret = {SECRET}", f"; secret = {REDACTED}"),
    "env_plain": (f"DB_PASSWORD={SECRET}\nHOME=/home/u", f"DB_PASSWORD={REDACTED}\nHOME=/home/u"),
    "env_text_after_the_quotes": (f'DB_PASSWORD="x"{SECRET}\nHOME=/h', f'DB_PASSWORD="{REDACTED}"\nHOME=/h'),
    "env_unclosed_bracket": (f"TOKEN=[{SECRET}\nseed = 3", f'TOKEN="{REDACTED}"\nseed = 3'),
    "env_export_quoted": (f'export API_TOKEN="{SECRET}"', f'export API_TOKEN="{REDACTED}"'),
    "yaml_scalar": (f"model: clip\nauth_token: {SECRET}  # prod", f"model: clip\nauth_token: {REDACTED}"),
    "yaml_block": (f"credentials:\n  user: bob\n  key: {SECRET}\nseed: 4", f"credentials: {REDACTED}\nseed: 4"),
    "yaml_block_scalar": (f"private-key: |\n  {SECRET}\n  AAAA\ndone: yes", f"private-key: {REDACTED}\ndone: yes"),
    "secret_section": (
        f'[credentials]\nuser = "alice"\npw = "{SECRET}"\n\n[world]\nseed = 3',
        f'[credentials]\nuser = "{REDACTED}"\npw = "{REDACTED}"\n\n[world]\nseed = 3',
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_secret_form_is_redacted_and_the_rest_kept(form: str) -> None:
    text, expected = FORMS[form]
    assert redact_config_text(text) == expected


def test_a_config_without_secrets_is_unchanged() -> None:
    text = '[tool.mmgate]\ntop1_min = 0.55\nnote = "a, password = in a string"\n[tool.mmgate.world]\nseed = 3\n'
    assert redact_config_text(text) == text


SECRET_VALUES = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="\"'\\"), min_size=8, max_size=30
)
SECRET_LINES = [
    '{k} = "{v}"',
    "{k} = {v}",
    "{k}={v}",
    "{k}: {v}",
    '"{k}": "{v}",',
    "export {k}='{v}'",
    '{{"{k}": "{v}"}}',
]


@settings(max_examples=80, deadline=None)
@given(
    key=st.sampled_from(["password", "API_KEY", "token", "client_secret", "Authorization", "private_key"]),
    value=SECRET_VALUES,
    template=st.sampled_from(SECRET_LINES),
)
def test_redacted_text_never_contains_a_secret_value_and_keeps_its_neighbours(
    key: str, value: str, template: str
) -> None:
    assume(value.lower() not in f"top1_min = 0.55 seed = 3 {key}".lower())
    text = "top1_min = 0.55\n" + template.format(k=key, v=value) + "\nseed = 3\n"
    redacted = redact_config_text(text)
    assert value not in redacted
    assert redacted.startswith("top1_min = 0.55\n") and redacted.endswith("\nseed = 3\n")


def test_config_log_record_keeps_the_sha256_of_the_full_text_and_fits_its_schema() -> None:
    text = f'seed = 1\ntoken = "{SECRET}"\n'
    record = config_log_record("pyproject.toml", text, recorded_utc="2026-02-17T13:40:16Z")
    assert record == {
        "source": "pyproject.toml",
        "redacted_text": f'seed = 1\ntoken = "{REDACTED}"\n',
        "sha256": sha256_text(text),
        "recorded_utc": "2026-02-17T13:40:16Z",
    }
    validate_record("config_log_record", record)


def test_config_log_record_stamps_the_current_utc_time_by_default() -> None:
    before = datetime.now(timezone.utc)
    record = config_log_record("env", "x = 1")
    after = datetime.now(timezone.utc)
    validate_record("config_log_record", record)
    stamped = datetime.fromisoformat(record["recorded_utc"])
    assert stamped.utcoffset() == timedelta(0)
    assert before <= stamped <= after
    given_time = "2024-01-02T03:04:05+00:00"
    assert config_log_record("env", "x = 1", recorded_utc=given_time)["recorded_utc"] == given_time
