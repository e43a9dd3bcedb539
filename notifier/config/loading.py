"""Reading the configuration: the TOML file, the environment's secrets, every problem named."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url

from notifier import paths
from notifier.config.fields import SECRET_KEYS
from notifier.config.secrets import Secrets
from notifier.config.settings import Settings
from notifier.errors import ConfigError, ConfigProblem


def find_config_path(explicit: Path | None, env: Mapping[str, str]) -> Path:
    """--config, else NOTIFIER_CONFIG, else ./config.toml, else the shipped example."""
    if explicit is not None:
        return explicit
    if env.get("NOTIFIER_CONFIG"):
        return Path(env["NOTIFIER_CONFIG"])
    local = Path("config.toml")
    if local.is_file():
        return local
    return paths.example_config()


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and check a TOML file; raise ConfigError listing every problem found."""
    env = os.environ if env is None else env
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError([ConfigProblem(source, "-", "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(source, "-", f"cannot read: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(source, "-", f"not valid TOML: {exc}")]) from exc
    return settings_from_data(data, source=source, env=env, base_dir=path.parent)


def settings_from_data(
    data: dict[str, Any], *, source: str, env: Mapping[str, str], base_dir: Path
) -> Settings:
    if "secrets" in data:
        raise ConfigError([ConfigProblem(source, "secrets", "secrets come from the environment")])
    if env.get("NOTIFIER_DATABASE_URL"):
        data["database"] = {**data.get("database", {}), "url": env["NOTIFIER_DATABASE_URL"]}
    if env.get("NOTIFIER_LOG_FORMAT"):
        data["logging"] = {**data.get("logging", {}), "format": env["NOTIFIER_LOG_FORMAT"]}
    override = data.get("templates", {}).get("override_dir")
    if isinstance(override, str) and override:
        data["templates"]["override_dir"] = str(base_dir / override)
    inbox = data.get("ingest", {}).get("inbox_dir")
    if isinstance(inbox, str) and inbox.strip():
        data["ingest"]["inbox_dir"] = str(base_dir / inbox)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_problem(source, err) for err in exc.errors()]) from exc
    problems = _check_paths(settings, source)
    if problems:
        raise ConfigError(problems)
    from_env = Secrets.from_environment(env)
    if from_env.secret_key is None:
        embedded = embedded_secret_key(settings.database.url)
        if embedded is not None:
            from_env = from_env.model_copy(update={"secret_key": SecretStr(embedded)})
    return settings.model_copy(update={"secrets": from_env})


def embedded_secret_key(database_url: str) -> str | None:
    """On the embedded SQLite default, the key kept in a file beside the database.

    The file keeps `make run` working with no setup, and links valid across restarts.
    Any other deployment must set NOTIFIER_SECRET_KEY (None here): every process has to
    derive the same links, and commands that need the key refuse to start without it.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).with_suffix(".secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), "-", f"cannot create the secret key file: {exc.strerror}")]
        ) from exc
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="ascii").strip()


def _check_paths(settings: Settings, source: str) -> list[ConfigProblem]:
    problems = []
    override = settings.templates.override_dir
    if override is not None and not override.is_dir():
        problems.append(
            ConfigProblem(source, "templates.override_dir", f"{override} is not a directory")
        )
    inbox = settings.ingest.inbox_dir
    if inbox is not None and not inbox.is_dir():
        problems.append(ConfigProblem(source, "ingest.inbox_dir", f"{inbox} is not a directory"))
    return problems


def _problem(source: str, error: Any) -> ConfigProblem:
    loc = [str(part) for part in error["loc"] if part not in ("function-after", "[key]")]
    key = ".".join(loc) or "-"
    kind = error["type"]
    last = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        if last in SECRET_KEYS:
            problem = f"secrets are read only from the environment: set {SECRET_KEYS[last]}"
        else:
            problem = "unknown key"
    elif kind == "missing":
        problem = "required key is missing"
    elif kind in ("model_type", "model_attributes_type", "dict_type") and last.endswith("hours"):
        problem = (
            "hours are given per weekday, so each language can say them: a table such as "
            f'[{key}] with mon = "08:00-20:00", sat = "09:00-13:00"'
        )
    elif kind == "enum" and len(loc) >= 2 and loc[0] == "rules":
        problem = f"{error['input']!r} is not a status or reason ({error['ctx']['expected']})"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        problem = f"{message} (got {error['input']!r})" if kind != "value_error" else message
    return ConfigProblem(source, key, problem)
