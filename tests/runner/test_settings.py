"""Settings (config files, CCF_<CONNECTOR>_<FIELD> variables, --set flags) and the config schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ccf_runner.schema import config_schema, secret_values
from ccf_runner.settings import (
    SettingsError,
    build_config,
    config_from_assignments,
    config_from_env,
    load_config_file,
)


class Auth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field("bot", description="Who to log in as.")
    password: SecretStr = Field(description="The password.")


class SiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where the site lives.")
    depth: int = Field(2, description="How deep to crawl.")
    follow: bool = False
    tags: list[str] = Field(default_factory=list)
    token: SecretStr | None = Field(None, description="API token.")
    auth: Auth | None = None


# -- files ------------------------------------------------------------------------------------


def test_yaml_file_is_read_as_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("url: https://example.com\ndepth: 3\ntags: [a, b]\n")
    assert load_config_file(path) == {"url": "https://example.com", "depth": 3, "tags": ["a", "b"]}


def test_json_file_is_read_by_its_extension(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text('{"url": "https://example.com", "follow": true}')
    assert load_config_file(path) == {"url": "https://example.com", "follow": True}


def test_unparsable_yaml_error_names_the_file_and_line_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("url: https://example.com\ntoken: [s3cret-value\n")
    with pytest.raises(SettingsError) as caught:
        load_config_file(path)
    assert str(path) in caught.value.message
    assert "line" in caught.value.message
    assert "s3cret-value" not in caught.value.message


def test_file_that_is_not_a_mapping_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(SettingsError, match=r"list\.json: must hold a mapping"):
        load_config_file(path)


def test_unknown_file_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("url = 'x'")
    with pytest.raises(SettingsError, match=r"use \.yaml, \.yml or \.json"):
        load_config_file(path)


# -- environment ------------------------------------------------------------------------------


def test_env_values_are_parsed_as_yaml_for_typed_fields() -> None:
    environ = {"CCF_SITE_DEPTH": "5", "CCF_SITE_FOLLOW": "true", "CCF_SITE_TAGS": "[x, y]"}
    assert config_from_env("site", SiteConfig, environ) == {"depth": 5, "follow": True, "tags": ["x", "y"]}


def test_env_keeps_string_fields_as_text_even_when_they_look_like_numbers() -> None:
    environ = {"CCF_SITE_TOKEN": "0123", "CCF_SITE_URL": "true"}
    assert config_from_env("site", SiteConfig, environ) == {"token": "0123", "url": "true"}


def test_env_ignores_variables_that_name_no_top_level_field() -> None:
    environ = {"CCF_SITE_NOPE": "1", "CCF_OTHER_DEPTH": "9", "CCF_SITE_DEPTH": "4"}
    assert config_from_env("site", SiteConfig, environ) == {"depth": 4}


def test_env_nested_fields_are_joined_by_double_underscore() -> None:
    environ = {"CCF_SITE_AUTH__PASSWORD": "12345", "CCF_SITE_AUTH__USER": "alice"}
    assert config_from_env("site", SiteConfig, environ) == {"auth": {"password": "12345", "user": "alice"}}


def test_env_prefix_upper_cases_the_connector_and_turns_dashes_into_underscores() -> None:
    assert config_from_env("web-site", SiteConfig, {"CCF_WEB_SITE_DEPTH": "7"}) == {"depth": 7}


# -- --set ------------------------------------------------------------------------------------


def test_set_with_dotted_key_builds_nested_mapping() -> None:
    assert config_from_assignments(["auth.user=bob", "depth=1"], SiteConfig) == {
        "auth": {"user": "bob"},
        "depth": 1,
    }


def test_set_without_equals_sign_is_a_clear_error() -> None:
    with pytest.raises(SettingsError, match="expected KEY=VALUE"):
        config_from_assignments(["depth"], SiteConfig)


# -- precedence -------------------------------------------------------------------------------


def test_env_overrides_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("url: https://file.example\ndepth: 1\n")
    config = build_config("site", SiteConfig, config_file=path, environ={"CCF_SITE_DEPTH": "8"})
    assert config == {"url": "https://file.example", "depth": 8}


def test_set_overrides_env_and_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("url: https://file.example\ndepth: 1\nauth: {user: file, password: p}\n")
    config = build_config(
        "site",
        SiteConfig,
        config_file=path,
        environ={"CCF_SITE_DEPTH": "8"},
        assignments=["depth=9", "auth.user=flag"],
    )
    assert config == {"url": "https://file.example", "depth": 9, "auth": {"user": "flag", "password": "p"}}


# -- schema and secrets -----------------------------------------------------------------------


def test_schema_lists_type_default_description_and_env_of_each_field() -> None:
    fields = {field.name: field for field in config_schema("site", SiteConfig)}
    assert fields["url"].required and fields["url"].default == "(required)"
    assert fields["url"].description == "Where the site lives."
    assert (fields["depth"].type, fields["depth"].default, fields["depth"].env) == (
        "int",
        "2",
        "CCF_SITE_DEPTH",
    )
    assert fields["tags"].type == "list[str]" and fields["tags"].default == "[]"


def test_schema_marks_secret_fields_and_expands_nested_models() -> None:
    fields = {field.name: field for field in config_schema("site", SiteConfig)}
    assert fields["token"].secret and not fields["url"].secret
    assert fields["auth.password"].secret
    assert fields["auth.password"].env == "CCF_SITE_AUTH__PASSWORD"


def test_secret_values_finds_nested_secrets() -> None:
    config = SiteConfig.model_validate({"url": "u", "token": "tok-1", "auth": {"password": "pw-2"}})
    assert sorted(secret_values(config)) == ["pw-2", "tok-1"]


class FlagOrList(BaseModel):
    private: bool | list[str] = False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("false", False),
        ("10.0.0.0/8", ["10.0.0.0/8"]),
        ("10.0.0.0/8, ::1", ["10.0.0.0/8", "::1"]),
    ],
)
def test_a_field_that_is_a_flag_or_a_list_takes_both_from_set(raw: str, expected: object) -> None:
    assert config_from_assignments([f"private={raw}"], FlagOrList) == {"private": expected}
    assert (
        FlagOrList.model_validate(config_from_assignments([f"private={raw}"], FlagOrList)).private == expected
    )
