"""Which ``model_config`` options a model may set: checked when the class is defined (pure).

A model reads server data under its stored keys and writes its dump under the same keys, so
every option that keeps those two in step is accepted: ``extra`` (``"forbid"``, the default;
``"ignore"``; ``"allow"``, whose extra keys are stored keys too), ``frozen``,
``validate_assignment``, ``str_strip_whitespace``, ``populate_by_name``, ``alias_generator``
and the rest of pydantic's options. Refused, with a ``TypeError`` saying why and what to do:

- ``validate_by_alias=False``: server data comes under the stored keys (the aliases);
- ``allow_inf_nan=True``: JSON has no NaN or infinity, so such a value could never be saved;
- a field read under one key and written under another (``validation_alias`` or
  ``serialization_alias`` alone, or an ``AliasGenerator`` giving two different names);
- two fields stored under one key.
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["check_config", "stored_key"]


def stored_key(name: str, info: object) -> str:
    """The key a field is stored under: its serialization alias, else its alias, else its name."""
    return getattr(info, "serialization_alias", None) or getattr(info, "alias", None) or name


def check_config(model: type[BaseModel]) -> None:
    """Raise ``TypeError`` for a model whose options would store or read data wrongly."""
    config, label = model.model_config, model.__name__
    if config.get("validate_by_alias") is False:
        raise TypeError(
            f"{label}: validate_by_alias=False cannot be used: objects are read from the "
            "server under their stored keys (the aliases); use populate_by_name=True to also "
            "accept field names"
        )
    if config.get("allow_inf_nan"):
        raise TypeError(
            f"{label}: allow_inf_nan=True cannot be used: JSON has no NaN or infinity, so a "
            "float field holding one could never be saved"
        )
    seen: dict[str, str] = {}
    for name, info in model.model_fields.items():
        key = stored_key(name, info)
        read = info.validation_alias if info.validation_alias is not None else info.alias or name
        if read != key:
            raise TypeError(
                f"{label}.{name} is written under {key!r} but read under {read!r}: a stored "
                f"object would not load back; give the field one name for both, "
                f'e.g. Field(alias="{key}")'
            )
        if key in seen:
            raise TypeError(
                f"{label}: fields {seen[key]!r} and {name!r} are both stored under {key!r}"
            )
        seen[key] = name
