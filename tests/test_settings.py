"""Settings: layering, conversion and errors that name the setting."""

from __future__ import annotations

import pytest

from dcmnode import Address, ConfigError, Input, Pipeline, PipelineError
from dcmnode.settings import resolve


class CT(Input):
    required_values = {"Modality": "CT"}


class Node(Pipeline):
    inputs = {"ct": CT}
    destination: Address | None = None
    threshold: float = 0.5
    labels: list[str] = []  # noqa: RUF012

    def process(self, job):
        return None


def test_layers_toml_then_environment_then_assignments(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('port = 104\nae_title = "TOML"\nthreshold = 2\nlabels = ["a", "b"]\n')
    overrides = resolve(
        Node,
        toml,
        {"DCMNODE_PORT": "105", "DCMNODE_AE_TITLE": "ENV", "OTHER": "x"},
        ["ae_title=CLI", "destination=PACS@10.0.0.5:104", "require_called_ae=no"],
    )
    node = Node(**overrides)
    assert (node.port, node.ae_title, node.threshold) == (105, "CLI", 2.0)
    assert node.destination == Address("PACS", "10.0.0.5", 104)
    assert node.labels == ["a", "b"] and node.require_called_ae is False
    assert Node.port == 11112  # the class is untouched


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("prot=1", "unknown setting 'prot'"),
        ("port=abc", "setting 'port'"),
        ("port=70000", "port: 70000"),
        ("workers=0", "workers: must be a positive integer"),
        ("process_retries=-1", r"process_retries: must be a whole number >= 0"),
        ("min_free_mb=-5", r"min_free_mb: must be a whole number >= 0"),
        ("network_timeout=0", "network_timeout: must be a positive number of seconds"),
        ("export_backoff=0", "export_backoff: must be a positive number of seconds"),
        ("expire_after=-1", r"expire_after: must be seconds >= 0 \(0: never\)"),
        ("deadline=-2", r"deadline: must be seconds >= 0 \(0: none\)"),
        ("unrouted=maybe", "unrouted"),
        ("destination=PACS", "setting 'destination'"),
        ("ae_title=", "ae_title"),
        ("group_by=NotAKeyword", "group_by"),
        ("allowed_calling_aes=OK,THIS_TITLE_IS_TOO_LONG", "allowed_calling_aes"),
        ("require_called_ae=perhaps", "setting 'require_called_ae'"),
        ("novalue", "expected name=value"),
    ],
)
def test_bad_values_name_the_setting(assignment, message):
    with pytest.raises(ConfigError, match=message):
        Node(**resolve(Node, None, {}, [assignment]))


def test_bad_toml_and_tables(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("port = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve(Node, bad, {})
    table = tmp_path / "t.toml"
    table.write_text("[node]\nport = 1\n")
    with pytest.raises(ConfigError, match="tables are not settings"):
        resolve(Node, table, {})
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(Node, tmp_path / "missing.toml", {})


def test_pipeline_shape_errors():
    class NoInputs(Pipeline):
        def process(self, job):
            return None

    with pytest.raises(PipelineError, match="declare at least one input"):
        NoInputs()

    class NoProcess(Pipeline):
        inputs = {"ct": CT}

    with pytest.raises(PipelineError, match="implement process"):
        NoProcess()

    class NotAnInput(Pipeline):
        inputs = {"ct": dict}

        def process(self, job):
            return None

    with pytest.raises(PipelineError, match=r"inputs\['ct'\]"):
        NotAnInput()


def test_address_parsing():
    assert Address.parse("PACS@host.example:104") == Address("PACS", "host.example", 104)
    assert Address.parse("A@[::1]:11112").host == "::1"
    assert str(Address("A", "::1", 5)) == "A@[::1]:5"
    for bad in ("PACS", "PACS@host", "@host:1", "PACS@host:0", "X" * 17 + "@h:1"):
        with pytest.raises(ConfigError):
            Address.parse(bad)


def test_an_unresolvable_user_annotation_does_not_untype_the_other_settings():
    namespace: dict[str, object] = {}
    exec(
        "from __future__ import annotations\n"
        "from dcmnode import Input, Pipeline\n"
        "class CT(Input):\n    required_values = {'Modality': 'CT'}\n"
        "class Odd(Pipeline):\n"
        "    inputs = {'ct': CT}\n"
        "    model: OnlyForTypeCheckers | None = None\n"
        "    threshold: float = 0.5\n"
        "    def process(self, job):\n        return None\n",
        namespace,
    )
    odd = namespace["Odd"]
    node = odd(**resolve(odd, None, {}, ["port=104", "threshold=2"]))  # type: ignore[operator]
    assert node.port == 104 and node.threshold == 2.0
