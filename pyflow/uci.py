"""A parser for OpenWrt's UCI configuration files (/etc/config/*).

The syntax is the one `uci` (libuci, file.c) reads:

    # a comment
    package 'network'                 # ignored (the file name is the package)

    config interface 'lan'            # a named section: type interface, name lan
        option device 'br-lan'        # option NAME VALUE
        option ipaddr "192.168.1.1"   # single quotes, double quotes or a bare word
        list ports 'lan1'             # list NAME VALUE: values accumulate in order
        list ports 'lan2'

    config defaults                   # an anonymous section, addressed as @defaults[0]
        option flow_offloading '1'

Words: a word is made of bare characters and quoted pieces, glued together
(`'ab'"cd"ef` is `abcdef`). Inside single quotes nothing is special; inside double quotes a
backslash escapes the next character (`"a \"b\" c"`, `"it's"`); outside quotes a backslash
escapes the next character and a backslash at the end of the line continues the word on the next
line. `#` outside quotes starts a comment up to the end of the line. As in libuci, a second
`config` with the name of an existing section merges into it, an `option` replaces the value,
and a `list` after an `option` of the same name turns it into a list.

Errors are ConfigError (UciSyntaxError) with the file name and line: "network:12: ...".
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple, Union

from .errors import ConfigError

__all__ = ["UciSyntaxError", "UciSection", "UciPackage", "parse", "load", "load_dir", "TRUE_WORDS"]

Value = Union[str, List[str]]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_REF_RE = re.compile(r"^@([A-Za-z0-9_-]+)\[(-?\d+)\]$")
TRUE_WORDS = frozenset(("1", "yes", "on", "true", "enabled"))
FALSE_WORDS = frozenset(("0", "no", "off", "false", "disabled"))


class UciSyntaxError(ConfigError):
    """Malformed UCI input; `file` and `line` say where (the message starts with "file:line: ")."""

    def __init__(self, file: str, line: int, message: str):
        self.file = file
        self.line = line
        super().__init__(f"{file}:{line}: {message}")


@dataclass
class UciSection:
    """One `config TYPE [NAME]` block."""

    type: str
    name: Optional[str]           # None for an anonymous section
    index: int                    # position among the sections of the same type (the N of @type[N])
    options: Dict[str, Value] = field(default_factory=dict)
    file: str = ""
    line: int = 0                 # line of the `config` keyword
    option_lines: Dict[str, int] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.name is None

    @property
    def ref(self) -> str:
        """How `uci show` names it: the name, or @type[index] for an anonymous section."""
        return self.name if self.name is not None else f"@{self.type}[{self.index}]"

    def where(self, option: Optional[str] = None) -> str:
        """"file:line" of the option (or of the section header)."""
        line = self.option_lines.get(option, self.line) if option else self.line
        return f"{self.file}:{line}"

    def __contains__(self, option: str) -> bool:
        return option in self.options

    def get(self, option: str, default: Optional[str] = None) -> Optional[str]:
        """A single value; a list gives its values joined by spaces (as `uci get` does)."""
        v = self.options.get(option)
        if v is None:
            return default
        return " ".join(v) if isinstance(v, list) else v

    def get_list(self, option: str) -> List[str]:
        """The values of a list; an option is split on white space (`option ifname 'eth0 eth1'`,
        the older spelling of many lists)."""
        v = self.options.get(option)
        if v is None:
            return []
        if isinstance(v, list):
            return list(v)
        return v.split()

    def get_bool(self, option: str, default: bool = False) -> bool:
        v = self.get(option)
        if v is None:
            return default
        w = v.strip().lower()
        if w in TRUE_WORDS:
            return True
        if w in FALSE_WORDS:
            return False
        raise ConfigError(f"{self.where(option)}: option {option} of {self.ref} is not a boolean: {v!r}")

    def get_int(self, option: str, default: Optional[int] = None) -> Optional[int]:
        v = self.get(option)
        if v is None or v.strip() == "":
            return default
        try:
            return int(v.strip(), 0) if v.strip().lower().startswith("0x") else int(v.strip())
        except ValueError:
            raise ConfigError(f"{self.where(option)}: option {option} of {self.ref} is not a number: {v!r}") from None


@dataclass
class UciPackage:
    """The sections of one file, in file order."""

    name: str
    file: str
    sections: List[UciSection] = field(default_factory=list)

    def __iter__(self) -> Iterator[UciSection]:
        return iter(self.sections)

    def __len__(self) -> int:
        return len(self.sections)

    def of_type(self, type_: str) -> List[UciSection]:
        return [s for s in self.sections if s.type == type_]

    def named(self, name: str) -> Optional[UciSection]:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def __getitem__(self, ref: str) -> UciSection:
        """A section by name or by `@type[N]` (negative N counts from the end)."""
        m = _REF_RE.match(ref)
        if m:
            of = self.of_type(m.group(1))
            try:
                return of[int(m.group(2))]
            except IndexError:
                raise KeyError(ref) from None
        s = self.named(ref)
        if s is None:
            raise KeyError(ref)
        return s

    def get(self, ref: str) -> Optional[UciSection]:
        try:
            return self[ref]
        except KeyError:
            return None


# --------------------------------------------------------------------------- tokenizer
class _Lines:
    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.i = 0

    def next(self) -> Optional[Tuple[int, str]]:
        if self.i >= len(self.lines):
            return None
        self.i += 1
        return self.i, self.lines[self.i - 1]


def _words(first_line: str, lineno: int, lines: _Lines, file: str) -> List[str]:
    """Splits one statement into words; may consume continuation lines (backslash at the end)."""
    words: List[str] = []
    cur: List[str] = []
    in_word = False
    line, pos = first_line, 0
    while True:
        if pos >= len(line):
            break
        c = line[pos]
        if c in " \t\r\f\v":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            pos += 1
            continue
        if c == "#":
            break
        if c == ";":   # libuci takes an unquoted ';' as a statement separator; one per line here
            raise UciSyntaxError(file, lineno, "';' separated statements are not supported: one statement per line")
        in_word = True
        if c == "'":
            end = line.find("'", pos + 1)
            if end < 0:
                raise UciSyntaxError(file, lineno, "unterminated ' quote")
            cur.append(line[pos + 1:end])
            pos = end + 1
            continue
        if c == '"':
            pos += 1
            while True:
                if pos >= len(line):
                    # libuci lets a double-quoted string run over lines
                    nxt = lines.next()
                    if nxt is None:
                        raise UciSyntaxError(file, lineno, 'unterminated " quote')
                    cur.append("\n")
                    line, pos = nxt[1], 0
                    continue
                d = line[pos]
                if d == '"':
                    pos += 1
                    break
                if d == "\\":
                    if pos + 1 >= len(line):   # backslash-newline inside quotes: join the lines
                        nxt = lines.next()
                        if nxt is None:
                            raise UciSyntaxError(file, lineno, 'unterminated " quote')
                        line, pos = nxt[1], 0
                        continue
                    cur.append(line[pos + 1])
                    pos += 2
                    continue
                cur.append(d)
                pos += 1
            continue
        if c == "\\":
            if pos + 1 >= len(line):       # line continuation
                nxt = lines.next()
                if nxt is None:
                    break
                line, pos = nxt[1], 0
                continue
            cur.append(line[pos + 1])
            pos += 2
            continue
        cur.append(c)
        pos += 1
    if in_word:
        words.append("".join(cur))
    return words


def _check_name(file: str, lineno: int, what: str, name: str) -> None:
    if not _NAME_RE.match(name):
        raise UciSyntaxError(file, lineno, f"invalid {what} {name!r} (letters, digits, '_' and '-' only)")


def parse(text: str, file: str = "<uci>", package: Optional[str] = None) -> UciPackage:
    """Parses the text of one UCI file. `file` is used in error messages."""
    pkg = UciPackage(package or os.path.basename(file), file)
    lines = _Lines(text)
    cur: Optional[UciSection] = None
    counts: Dict[str, int] = {}
    while True:
        nxt = lines.next()
        if nxt is None:
            break
        lineno, raw = nxt
        words = _words(raw, lineno, lines, file)
        if not words:
            continue
        kw, args = words[0], words[1:]
        if kw == "package":
            if len(args) != 1:
                raise UciSyntaxError(file, lineno, "package takes one name")
            continue
        if kw == "config":
            if not 1 <= len(args) <= 2:
                raise UciSyntaxError(file, lineno, "config takes a type and an optional name"
                                     if args else "config without a section type")
            typ = args[0]
            _check_name(file, lineno, "section type", typ)
            name = args[1] if len(args) == 2 else None
            if name is not None:
                if name == "":
                    name = None  # `config type ''` is anonymous in libuci
                else:
                    _check_name(file, lineno, "section name", name)
            existing = pkg.named(name) if name is not None else None
            if existing is not None:
                # libuci merges a repeated name into the first section
                if existing.type != typ:
                    raise UciSyntaxError(file, lineno, f"section {name!r} already defined with type "
                                         f"{existing.type!r} at line {existing.line}")
                cur = existing
                continue
            cur = UciSection(typ, name, counts.get(typ, 0), file=file, line=lineno)
            counts[typ] = cur.index + 1
            pkg.sections.append(cur)
            continue
        if kw in ("option", "list"):
            if cur is None:
                raise UciSyntaxError(file, lineno, f"{kw} outside of a config section")
            if not args:
                raise UciSyntaxError(file, lineno, f"{kw} without a name")
            if len(args) == 1:
                raise UciSyntaxError(file, lineno, f"{kw} {args[0]} without a value")
            if len(args) > 2:
                raise UciSyntaxError(file, lineno, f"{kw} {args[0]}: too many values "
                                     f"({len(args) - 1}); quote a value containing spaces")
            name, value = args
            _check_name(file, lineno, "option name", name)
            old = cur.options.get(name)
            if kw == "option":
                cur.options[name] = value
            elif isinstance(old, list):
                old.append(value)
            elif old is not None:
                cur.options[name] = [old, value]
            else:
                cur.options[name] = [value]
            cur.option_lines.setdefault(name, lineno)
            continue
        raise UciSyntaxError(file, lineno, f"unknown keyword {kw!r} (expected config, option, list or package)")
    return pkg


def read_text(path: Union[str, os.PathLike], what: str = "") -> Tuple[str, str]:
    """(path as text, file contents) of a UTF-8 text file; ConfigError naming the file and, for
    bad bytes, the line. Shared by the UCI, TOML topology and nft ruleset readers."""
    spath = os.fspath(path)
    try:
        with open(spath, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ConfigError(f"{spath}: cannot read{what}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UciSyntaxError(spath, line, "not UTF-8 text") from None
    return spath, text


def load(path: Union[str, os.PathLike]) -> UciPackage:
    """Reads and parses one file (ConfigError if it cannot be read or parsed)."""
    spath, text = read_text(path)
    if "\0" in text:
        raise UciSyntaxError(spath, text[:text.index("\0")].count("\n") + 1, "NUL byte: not a text file")
    return parse(text, spath, os.path.basename(spath))


def load_dir(path: Union[str, os.PathLike], names: Tuple[str, ...] = ("network", "wireless", "firewall",
                                                                     "sqm", "dhcp")) -> Dict[str, UciPackage]:
    """The packages of a copy of /etc/config that exist among `names`."""
    spath = os.fspath(path)
    if not os.path.isdir(spath):
        raise ConfigError(f"{spath}: not a directory (give a copy of the router's /etc/config)")
    out = {}
    for n in names:
        p = os.path.join(spath, n)
        if os.path.isfile(p):
            out[n] = load(p)
    return out
