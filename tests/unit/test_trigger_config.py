"""The triggers file of `authflow serve` (authflow.adapters.trigger_config): a good file
becomes a CallableTriggers whose functions are the named callables; every kind of bad
file is refused with one line naming the file and the entry (issue 8)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from authflow.adapters import CallableTriggers
from authflow.adapters.trigger_config import TriggerConfigError, load, parse
from authflow.core import trigger_events as te

ARN = "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up"
OTHER = "arn:aws:lambda:us-east-1:123456789012:function:post-auth:live"


@pytest.fixture
def hooks(tmp_path, monkeypatch):
    """A uniquely named hooks module in tmp_path/lib (so tests never share a cached module);
    sys.path and sys.modules are restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"hooks_{uuid.uuid4().hex[:12]}"
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / f"{name}.py").write_text(
        "CALLS = []\n"
        "def pre_sign_up(event):\n"
        "    CALLS.append(event['triggerSource'])\n"
        "    event['response']['autoConfirmUser'] = True\n"
        "    return event\n"
        "class handlers:\n"
        "    @staticmethod\n"
        "    def post_auth(event):\n"
        "        return event\n"
        "NOT_CALLABLE = 42\n",
        encoding="utf-8",
    )
    yield name
    sys.modules.pop(name, None)


def write(tmp_path: Path, text: str, name: str = "triggers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(TriggerConfigError) as refused:
        load(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_a_good_file_maps_each_arn_to_its_callable(tmp_path, hooks):
    path = write(tmp_path, f'path = ["lib"]\n[functions]\n"{ARN}" = "{hooks}:pre_sign_up"\n'
                           f'"{OTHER}" = "{hooks}:handlers.post_auth"\n')
    loaded = load(path)
    assert loaded.file.path == path.resolve()
    assert dict(loaded.file.targets) == {ARN: f"{hooks}:pre_sign_up", OTHER: f"{hooks}:handlers.post_auth"}
    assert isinstance(loaded.triggers, CallableTriggers)
    module = sys.modules[hooks]
    assert loaded.triggers.functions == {ARN: module.pre_sign_up, OTHER: module.handlers.post_auth}
    event = te.event("PreSignUp_SignUp", region="us-east-1", pool_id="p", username="u", client_id="c", request={})
    assert loaded.triggers.invoke(ARN, event)["response"]["autoConfirmUser"] is True
    assert module.CALLS == ["PreSignUp_SignUp"]


def test_the_default_path_is_the_files_own_directory(tmp_path, hooks):
    lib = tmp_path / "lib"
    path = write(lib, f'[functions]\n"{ARN}" = "{hooks}:pre_sign_up"\n')
    assert load(path).file.search_path == (lib.resolve(),)
    assert str(lib.resolve()) in sys.path


def test_json_of_the_same_shape(tmp_path, hooks):
    path = write(tmp_path, f'{{"path": ["lib"], "functions": {{"{ARN}": "{hooks}:pre_sign_up"}}}}',
                 name="triggers.json")
    assert list(load(path).triggers.functions) == [ARN]


def test_an_empty_functions_table_is_allowed(tmp_path):
    assert load(write(tmp_path, "[functions]\n")).triggers.functions == {}


def test_parse_is_pure_and_imports_nothing(tmp_path):
    checked = parse(f'[functions]\n"{ARN}" = "surely_not_a_module_anywhere:f"\n', tmp_path / "t.toml")
    assert dict(checked.targets) == {ARN: "surely_not_a_module_anywhere:f"}
    assert "surely_not_a_module_anywhere" not in sys.modules


@pytest.mark.parametrize("text, message", [
    ('[functions\n"x" = 1\n', "not valid TOML: "),
    ("path = ['.']\n", "no [functions] table"),
    ('[funtions]\n', "unknown key 'funtions' (expected path and functions)"),
    ('path = "."\n[functions]\n', "path must be a list of directories"),
    ('[functions]\n"arn:aws:sns:us-east-1:123456789012:topic" = "m:f"\n',
     "'arn:aws:sns:us-east-1:123456789012:topic' is not a Lambda function ARN"),
    ('[functions]\n"pre-sign-up" = "m:f"\n', "'pre-sign-up' is not a Lambda function ARN"),
    (f'[functions]\n"{ARN}" = "just_a_module"\n', f"{ARN} = 'just_a_module': expected \"module:function\""),
    (f'[functions]\n"{ARN}" = 3\n', f"{ARN} = 3: expected \"module:function\""),
], ids=["toml-syntax", "no-functions", "unknown-key", "path-not-list", "not-lambda", "not-arn",
        "no-colon", "not-string"])
def test_a_malformed_file_is_refused_naming_the_entry(tmp_path, text, message):
    assert message in refusal(write(tmp_path, text))


def test_invalid_json_is_refused(tmp_path):
    assert "not valid JSON: " in refusal(write(tmp_path, "{functions: 1}", name="t.json"))
    assert "not a JSON object" in refusal(write(tmp_path, "[]", name="t.json"))


def test_a_missing_file_is_refused(tmp_path):
    path = tmp_path / "absent.toml"
    assert "cannot read the triggers file" in refusal(path)


def test_an_unknown_module_is_refused(tmp_path):
    path = write(tmp_path, f'[functions]\n"{ARN}" = "no_such_hooks_module_xyz:pre"\n')
    assert refusal(path) == f"{path}: {ARN} = 'no_such_hooks_module_xyz:pre': no module named 'no_such_hooks_module_xyz'"


def test_a_missing_attribute_is_refused(tmp_path, hooks):
    path = write(tmp_path, f'path = ["lib"]\n[functions]\n"{ARN}" = "{hooks}:nope"\n')
    assert refusal(path).endswith(f"{ARN} = '{hooks}:nope': {hooks} has no attribute 'nope'")


def test_a_target_that_is_not_callable_is_refused(tmp_path, hooks):
    path = write(tmp_path, f'path = ["lib"]\n[functions]\n"{ARN}" = "{hooks}:NOT_CALLABLE"\n')
    assert refusal(path).endswith("NOT_CALLABLE is a int, not a callable")


def test_a_module_that_fails_to_import_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"broken_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text("import no_such_dependency_xyz\n", encoding="utf-8")
    path = write(tmp_path, f'[functions]\n"{ARN}" = "{name}:f"\n')
    message = refusal(path)
    assert f"importing {name} failed: ModuleNotFoundError: No module named 'no_such_dependency_xyz'" in message

    (tmp_path / f"{name}2.py").write_text("def f(:\n", encoding="utf-8")
    path = write(tmp_path, f'[functions]\n"{ARN}" = "{name}2:f"\n')
    assert f"importing {name}2 failed: SyntaxError: " in refusal(path)


def test_without_tomllib_or_tomli_the_message_says_what_to_install(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: tomli is used if installed, else the refusal says so."""
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", None)
    assert "needs `pip install tomli` (or write the same table as a .json file)" in refusal(
        write(tmp_path, "[functions]\n"))
