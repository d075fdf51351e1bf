"""Reading YAML from users' files and `--set` values: PyYAML's safe loader, hardened so that any
text ends in a YAML error with its line, never a crash, a hang or a billion-item value.
"""

import typing

import yaml

from nst.errors import UserError, one_line, shorten, show_value

# Bounds that keep a mistaken or hostile file from crashing or running for ever: a config is a few
# dozen lines, a sweep a few hundred values, and no setting needs a number hundreds of digits long.
_MAX_FILE_CHARS = 2**20
_MAX_YAML_DEPTH = 50
_MAX_YAML_VALUES = 10_000  # counted with anchors and aliases expanded
_MAX_NUMBER_CHARS = 1000


def read_yaml_file(source: str, kind: str = "config") -> typing.Any:
    """The YAML document in the file `source`; `kind` ("config", "sweep") names it in errors."""
    try:
        with open(source, encoding="utf-8") as file:
            # A bounded read, so that `nst run /dev/zero` or a huge log file given by mistake ends.
            text = file.read(_MAX_FILE_CHARS + 1)
    except FileNotFoundError:
        raise UserError(f"{source}: {kind} file not found") from None
    except IsADirectoryError:
        raise UserError(f"{source}: is a directory; pass a YAML {kind} file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{source}: cannot read {kind} file ({error})") from None
    if len(text) > _MAX_FILE_CHARS:
        raise UserError(
            f"{source}: too large for a {kind} file (over {_MAX_FILE_CHARS:,} characters)"
        )
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        where, problem = describe_yaml_error(error)
        raise UserError(f"{source}{where}: invalid YAML: {problem}") from None


def load_yaml(text: str) -> typing.Any:
    """`yaml.safe_load`, except that every problem in the text is raised as a `yaml.YAMLError`.

    PyYAML itself raises ValueError, KeyError, AttributeError or IndexError for some malformed
    scalars (`2001-02-30`, `!!int x`) and RecursionError for deep nesting; and aliases of aliases
    ("billion laughs"), or an alias inside its own anchor, build values that printing or copying
    would expand for ever.
    """
    data = yaml.load(text, Loader=_StrictLoader)
    pending, count = [data], 0
    while pending:
        value = pending.pop()
        count += 1
        if count > _MAX_YAML_VALUES:
            raise yaml.YAMLError(
                f"more than {_MAX_YAML_VALUES:,} values once anchors and aliases are expanded"
            )
        if isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, (list, set)):
            pending += value
    return data


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with its crashes on odd input turned into YAML errors with a line."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        # PyYAML composes nested collections recursively, up to Python's recursion limit.
        self._depth += 1
        try:
            if self._depth > _MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {_MAX_YAML_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, AttributeError, IndexError) as error:
            # How PyYAML's scalar constructors fail: `2001-02-30`, `!!bool x`, `!!timestamp x`,
            # `!!int` with no digits.
            value = show_value(node.value) if isinstance(node, yaml.ScalarNode) else "a value"
            kind = node.tag.rsplit(":", 1)[-1]
            detail = f" ({one_line(error)})" if isinstance(error, ValueError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"{value} is not a valid {kind}{detail}", node.start_mark
            ) from None

    def construct_yaml_int(self, node):
        # Python refuses to print an int of over 4300 digits; no setting needs one of 1000.
        if len(node.value) > _MAX_NUMBER_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"a number {len(node.value):,} characters long", node.start_mark
            )
        return super().construct_yaml_int(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


def describe_yaml_error(error: yaml.YAMLError) -> tuple[str, str]:
    """(", line L, column C" or "", the problem on one line) for an error from `load_yaml`."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return "", shorten(one_line(error))
    mark = error.problem_mark or error.context_mark
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return where, shorten(one_line(error.problem or error.context or error))
