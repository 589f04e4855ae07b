"""Which models the agents use: a config file, then PRAGMA_LLM_* variables, then flags.

    # ~/.config/pragma-kernels/llm.toml (or PRAGMA_LLM_CONFIG, or --llm-config FILE)
    [llm]                       # the Coder, and the Conductor unless [conductor] says more
    model = "deepseek-chat"
    base_url = "https://api.deepseek.com"
    api_key_env = "DEEPSEEK_API_KEY"   # the variable holding the key, never the key
    replies = "model"                  # or "scripted", "hand-answered": noted in run.json

    [conductor]                 # optional: only what differs from [llm]
    model = "deepseek-reasoner"

    [prices]                    # USD per million tokens [input, output], for cost and budgets
    "deepseek-chat" = [0.27, 1.10]

Later sources override earlier ones field by field; a model's price from the table
applies unless its settings name one.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pragma_kernels import config as environment
from pragma_kernels.errors import PragmaError
from pragma_kernels.llm.client import LLMSettings


class _Section(BaseModel):
    """A partial LLMSettings: every field optional, unknown keys refused."""

    model_config = ConfigDict(extra="forbid")
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    usd_per_mtok_in: float | None = None
    usd_per_mtok_out: float | None = None
    replies: str | None = None


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    llm: _Section = _Section()
    conductor: _Section = _Section()
    prices: dict[str, tuple[float, float]] = {}


def parse_config(text: str, source: str) -> LLMConfig:
    try:
        return LLMConfig.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise PragmaError(f"{source}: not valid TOML ({exc}). Fix: correct the file") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PragmaError(
            f"{source}: {where}: {first['msg']}. Fix: sections are [llm], [conductor] and "
            "[prices]; fields are those of LLMSettings (model, provider, base_url, "
            "api_key_env, temperature, max_tokens, ...); prices are [input, output] USD per "
            "million tokens"
        ) from None


def load_config(path: Path | None) -> LLMConfig:
    """The file's settings; an empty config when there is no file."""
    if path is None:
        return LLMConfig()
    if not path.is_file():
        raise PragmaError(f"{path}: LLM config file not found. Fix: give an existing file")
    return parse_config(path.read_text(), str(path))


def resolve(
    config: LLMConfig, env: dict, flags: dict, conductor_flags: dict | None = None
) -> tuple[LLMSettings | None, LLMSettings | None]:
    """(Coder, Conductor) settings from the file, then `env`, then `flags` (partial dicts,
    None values ignored); None when no source names a model."""
    coder = _merge(config.llm.model_dump(), env, flags)
    if not coder.get("model"):
        return None, None
    conductor = _merge(coder, config.conductor.model_dump(), conductor_flags or {})
    return _priced(coder, config), _priced(conductor, config)


def _merge(*layers: dict) -> dict:
    merged: dict = {}
    for layer in layers:
        merged.update({key: value for key, value in layer.items() if value is not None})
    return merged


def _priced(fields: dict, config: LLMConfig) -> LLMSettings:
    price = config.prices.get(fields["model"])
    if price and "usd_per_mtok_in" not in fields and "usd_per_mtok_out" not in fields:
        fields = {**fields, "usd_per_mtok_in": price[0], "usd_per_mtok_out": price[1]}
    try:
        return LLMSettings(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PragmaError(
            f"LLM settings: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None


def llm_settings(flags: dict | None = None, conductor_flags: dict | None = None, file=None):
    """(Coder, Conductor) LLMSettings from the config file, PRAGMA_LLM_* variables and
    `flags` (later wins); (None, None) when none of them names a model."""
    config = load_config(Path(file) if file else environment.llm_config_file())
    return resolve(config, environment.llm_environment(), flags or {}, conductor_flags)
