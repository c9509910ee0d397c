"""Read the flowtable and the offload rule from the text of `nft list ruleset`.

OpenWrt's firewall4 writes (root/usr/share/firewall4/templates/ruleset.uc)

    flowtable ft {
        hook ingress priority 0;
        devices = {{ fw4.set(flowtable_devices, true) }};
        counter;
        flags offload;                       # only with flow_offloading_hw '1'
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        meta l4proto { tcp, udp } flow offload @ft;
        ...

and `nft list ruleset` prints it back as (nftables src/rule.c flowtable_print_declaration;
older nft print the devices without quotes, newer with):

    table inet fw4 {
        flowtable ft {
            hook ingress priority filter
            devices = { "lan1", "lan2", "wan" }
            flags offload
            counter
        }
        chain forward {
            type filter hook forward priority filter; policy drop;
            meta l4proto { tcp, udp } flow add @ft
            ct state vmap { established : accept, related : accept, invalid : drop }
            ...

`parse_ruleset(text)` finds the flowtable (name, hook, priority, devices, `flags offload`,
`counter`) and the rule of a forward base chain holding `flow add @NAME` (or the input spelling
`flow offload @NAME`), and turns the expressions in front of the statement into the offload rule
of pyflow.Options. `to_options()` gives the keyword arguments of pyflow.replay.

What is modelled in front of `flow add` (nft evaluates left to right; all must match):

    meta l4proto { tcp, udp }            ip protocol ... / ip6 nexthdr ... (and IPv4 / IPv6 only)
    meta nfproto ipv4|ipv6               meta protocol ip|ip6
    iifname / oifname / iif / oif  "dev" or { "dev", ... }   (with or without `meta`)
    ip saddr / ip daddr / ip6 saddr / ip6 daddr  address, prefix or { ... } (at most 8)
    ct state new|established|related    (also `established,related` and sets)
    ct [original|reply] packets|bytes OP N   OP: ge >= gt > le <= lt < eq == ne != or none (==)
    counter [packets N bytes N]          (ignored: it matches everything)
    comment "..."                        (ignored)

`ct packets` without a direction is the sum of both directions: nft leaves the direction
attribute out and the kernel's nft_ct_get_eval_counter (net/netfilter/nft_ct.c) adds
IP_CT_DIR_ORIGINAL and IP_CT_DIR_REPLY when no direction is set. It maps to dir "both".

Anything else in front of the statement (`tcp dport 443`, `meta mark 0x1`, `ct helper ...`,
negations `!=`, wildcards `"wl*"`, named sets `@x`, address ranges) is a RulesetError naming the
file, the line and the expression: pyflow never runs a rule whose meaning it changed. A rule before
the offload rule in the same chain that carries a verdict (accept, drop, jump, vmap, ...) is an
error too: the packets it decides never reach `flow add`. Statements after `flow add @ft` in the
same rule are ignored: `flow add` does not end the evaluation or change the verdict, so what
follows it cannot change which packets add a flow.

Limits: pyflow knows topology interfaces, not devices; `to_options` maps every device to an
interface (`device_map`; default: names starting with "wan" or "pppoe" are the WAN, the rest LAN),
so `iifname "lan1"` also matches packets of lan2 when both map to "lan". Other forward base chains
(e.g. a drop in `mangle_forward`) are not evaluated. When several conditions fail, pyflow names
the packet by its own fixed order (protocol, interfaces, addresses, ct state, then the ct count),
not by the order written in the rule.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import ConfigError
from .uci import read_text

__all__ = ["RulesetError", "NftOffload", "parse_ruleset", "load_ruleset", "default_interface"]


class RulesetError(ConfigError):
    """The ruleset cannot be read or uses something pyflow does not model ("file:line: ...")."""

    def __init__(self, file: str, line: int, message: str):
        self.file = file
        self.line = line
        super().__init__(f"{file}:{line}: {message}")


# --------------------------------------------------------------------------- tokens

@dataclass
class Tok:
    kind: str   # "word", "string", "{", "}", ",", ";", "nl"
    text: str
    line: int

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"{self.kind}:{self.text!r}@{self.line}"


_PUNCT = "{},;"
_OPS = ("==", "!=", ">=", "<=", "<", ">")


def _split_op(word: str) -> List[str]:
    """`>=30` -> `>=`, `30` (nft prints spaces; hand-written rules may not)."""
    if word in _OPS:
        return [word]
    for op in _OPS:
        if word.startswith(op) and len(word) > len(op):
            return [op, word[len(op):]]
    return [word]


def tokenize(text: str, source: str) -> List[Tok]:
    toks: List[Tok] = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            toks.append(Tok("nl", "\n", line))
            line += 1
            i += 1
        elif c == "\\" and i + 1 < n and text[i + 1] == "\n":  # line continuation
            line += 1
            i += 2
        elif c.isspace():
            i += 1
        elif c == "#":  # comment (also `# handle 4` of `nft -a list ruleset`)
            while i < n and text[i] != "\n":
                i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\n":
                    raise RulesetError(source, line, "unterminated string")
                j += 1
            if j >= n:
                raise RulesetError(source, line, "unterminated string")
            toks.append(Tok("string", text[i + 1:j], line))
            i = j + 1
        elif c in _PUNCT:
            toks.append(Tok(c, c, line))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _PUNCT and text[j] not in '"#':
                j += 1
            for w in _split_op(text[i:j]):
                toks.append(Tok("word", w, line))
            i = j
    toks.append(Tok("nl", "\n", line))
    return toks


# --------------------------------------------------------------------------- structure

@dataclass
class SetExpr:
    """An anonymous set `{ a, b }`: its elements, each a list of items."""

    elements: List[List["Item"]]
    line: int


Item = Union[Tok, SetExpr]


@dataclass
class Rule:
    items: List[Item]
    line: int
    text: str


@dataclass
class Chain:
    name: str
    line: int
    type: Optional[str] = None
    hook: Optional[str] = None
    priority: Optional[str] = None
    rules: List[Rule] = field(default_factory=list)


@dataclass
class Flowtable:
    name: str
    line: int
    hook: Optional[str] = None
    priority: Optional[str] = None
    devices: List[str] = field(default_factory=list)
    offload: bool = False
    counter: bool = False


@dataclass
class Table:
    family: str
    name: str
    line: int
    chains: List[Chain] = field(default_factory=list)
    flowtables: List[Flowtable] = field(default_factory=list)


def _item_text(it: Item) -> str:
    if isinstance(it, SetExpr):
        return "{ " + ", ".join(" ".join(_item_text(x) for x in e) for e in it.elements) + " }"
    return f'"{it.text}"' if it.kind == "string" else it.text


class _Parser:
    def __init__(self, toks: List[Tok], source: str, text: str = ""):
        self.toks = toks
        self.lines = text.splitlines()
        self.i = 0
        self.source = source

    # helpers
    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        if self.i < len(self.toks) - 1:
            self.i += 1
        return t

    def at_end(self) -> bool:
        return self.i >= len(self.toks) - 1

    def error(self, line: int, msg: str) -> RulesetError:
        return RulesetError(self.source, line, msg)

    def skip_separators(self) -> None:
        while not self.at_end() and self.peek().kind in ("nl", ";"):
            self.next()

    def expect_name(self, what: str) -> Tok:
        t = self.next()
        if t.kind not in ("word", "string"):
            raise self.error(t.line, f"expected {what}, found {t.text.strip() or 'end of line'!r}")
        return t

    def expect(self, kind: str) -> Tok:
        t = self.next()
        if t.kind != kind:
            raise self.error(t.line, f"expected {kind!r}, found {t.text.strip() or 'end of line'!r}")
        return t

    def statement(self) -> List[Item]:
        """Items up to the end of line or `;` (anonymous sets may span lines)."""
        items: List[Item] = []
        while True:
            t = self.peek()
            if t.kind in ("nl", ";", "}") or self.at_end():
                return items
            # a `{` opens an anonymous set; a `,` separates a flag list (established,related)
            items.append(self.set_expr() if t.kind == "{" else self.next())

    def set_expr(self) -> SetExpr:
        open_tok = self.expect("{")
        elements: List[List[Item]] = []
        cur: List[Item] = []
        while True:
            if self.at_end():
                raise self.error(open_tok.line, "unbalanced '{'")
            t = self.peek()
            if t.kind == "}":
                self.next()
                if cur:
                    elements.append(cur)
                return SetExpr(elements, open_tok.line)
            if t.kind == "{":
                cur.append(self.set_expr())
            elif t.kind == ",":
                self.next()
                if cur:
                    elements.append(cur)
                cur = []
            elif t.kind in ("nl", ";"):
                self.next()
                # an element never continues on the next line without a comma: a missing '}'
                if cur and self.peek().kind not in ("}", ",", "nl", ";"):
                    raise self.error(open_tok.line, "unbalanced '{': a set element continues on the next "
                                                    "line without ',' (missing '}'?)")
            else:
                cur.append(self.next())

    def skip_block(self) -> None:
        open_tok = self.expect("{")
        depth = 1
        while depth:
            if self.at_end():
                raise self.error(open_tok.line, "unbalanced '{'")
            t = self.next()
            if t.kind == "{":
                depth += 1
            elif t.kind == "}":
                depth -= 1

    # grammar
    def ruleset(self) -> List[Table]:
        tables: List[Table] = []
        while True:
            self.skip_separators()
            if self.at_end():
                return tables
            t = self.next()
            if t.kind != "word" or t.text != "table":
                raise self.error(t.line, f"expected 'table', found {t.text!r} (pyflow reads the output of "
                                         "`nft list ruleset`)")
            family = self.expect_name("a table family")
            if family.text not in ("ip", "ip6", "inet", "arp", "bridge", "netdev"):
                # `table NAME {` without a family is `ip`
                name, fam = family, "ip"
            else:
                name, fam = self.expect_name("a table name"), family.text
            self.skip_newlines()
            self.expect("{")
            tables.append(self.table_body(Table(fam, name.text, t.line)))

    def skip_newlines(self) -> None:
        while self.peek().kind == "nl" and not self.at_end():
            self.next()

    def table_body(self, table: Table) -> Table:
        while True:
            self.skip_separators()
            t = self.peek()
            if self.at_end():
                raise self.error(table.line, f"table {table.family} {table.name}: missing '}}'")
            if t.kind == "}":
                self.next()
                return table
            if t.kind == "word" and t.text == "chain":
                self.next()
                name = self.expect_name("a chain name")
                self.skip_newlines()
                self.expect("{")
                table.chains.append(self.chain_body(Chain(name.text, t.line)))
            elif t.kind == "word" and t.text == "flowtable":
                self.next()
                name = self.expect_name("a flowtable name")
                self.skip_newlines()
                self.expect("{")
                table.flowtables.append(self.flowtable_body(Flowtable(name.text, t.line)))
            else:
                # sets, maps, ct helpers, named counters, quotas, table flags/comments: not needed
                while self.peek().kind not in ("nl", ";", "{", "}") and not self.at_end():
                    self.next()
                if self.peek().kind == "{":
                    self.skip_block()

    def chain_body(self, chain: Chain) -> Chain:
        while True:
            self.skip_separators()
            t = self.peek()
            if self.at_end():
                raise self.error(chain.line, f"chain {chain.name}: missing '}}'")
            if t.kind == "}":
                self.next()
                return chain
            start = self.i
            items = self.statement()
            if not items:  # a stray token such as ','
                raise self.error(t.line, f"unexpected {t.text!r}")
            head = items[0]
            if isinstance(head, Tok) and head.kind == "word" and head.text == "type":
                self.base_chain(chain, items)
            elif isinstance(head, Tok) and head.kind == "word" and head.text in ("policy", "comment", "devices",
                                                                                    "device", "flags"):
                pass
            else:
                last = self.toks[self.i - 1].line
                text = " ".join(ln.strip() for ln in self.lines[head.line - 1:last])
                chain.rules.append(Rule(items, head.line, text))

    def base_chain(self, chain: Chain, items: List[Item]) -> None:
        words = [x.text if isinstance(x, Tok) else _item_text(x) for x in items]
        if len(words) < 2:
            raise self.error(items[0].line, "chain type without a value")
        chain.type = words[1]
        if "hook" in words:
            k = words.index("hook")
            chain.hook = words[k + 1] if k + 1 < len(words) else None
        if "priority" in words:
            k = words.index("priority")
            chain.priority = " ".join(words[k + 1:])

    def flowtable_body(self, ft: Flowtable) -> Flowtable:
        while True:
            self.skip_separators()
            t = self.peek()
            if self.at_end():
                raise self.error(ft.line, f"flowtable {ft.name}: missing '}}'")
            if t.kind == "}":
                self.next()
                return ft
            items = self.statement()
            head = items[0]
            key = head.text if isinstance(head, Tok) else ""
            if key == "hook":
                if len(items) < 2 or not isinstance(items[1], Tok):
                    raise self.error(head.line, "flowtable hook without a name")
                ft.hook = items[1].text
                rest = [x for x in items[2:]]
                if rest and isinstance(rest[0], Tok) and rest[0].text == "priority":
                    ft.priority = " ".join(_item_text(x) if isinstance(x, SetExpr) else x.text for x in rest[1:])
            elif key == "devices":
                vals = items[1:]
                if vals and isinstance(vals[0], Tok) and vals[0].text == "=":
                    vals = vals[1:]
                ft.devices = self.names(vals, head.line, "flowtable devices")
            elif key == "flags":
                flags = [x.text for x in items[1:] if isinstance(x, Tok) and x.kind == "word"]
                for f in flags:
                    if f != "offload":
                        raise self.error(head.line, f"flowtable flag {f!r} is not known (only 'offload')")
                ft.offload = ft.offload or "offload" in flags
            elif key == "counter":
                ft.counter = True
            elif key == "comment":
                pass
            else:
                raise self.error(head.line, f"flowtable {ft.name}: unknown attribute {key or _item_text(head)!r}")

    def names(self, vals: List[Item], line: int, what: str) -> List[str]:
        if len(vals) == 1 and isinstance(vals[0], SetExpr):
            out = []
            for el in vals[0].elements:
                if len(el) != 1 or not isinstance(el[0], Tok):
                    raise self.error(vals[0].line, f"{what}: bad element {' '.join(_item_text(x) for x in el)!r}")
                out.append(el[0].text)
            return out
        if len(vals) == 1 and isinstance(vals[0], Tok) and vals[0].kind in ("word", "string"):
            return [vals[0].text]
        raise self.error(line, f"{what}: expected a name or a set {{ ... }}")


# --------------------------------------------------------------------------- the offload rule

_VERDICTS = frozenset(("accept", "drop", "reject", "queue", "jump", "goto", "return", "vmap", "continue"))
_L4 = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}
_CMP_WORDS = {"ge": "ge", ">=": "ge", "gt": "gt", ">": "gt", "le": "le", "<=": "le", "lt": "lt", "<": "lt",
              "eq": "eq", "==": "eq", "ne": "ne", "!=": "ne"}
_SUPPORTED = ("meta l4proto, meta nfproto, meta protocol, ip protocol, ip6 nexthdr, iif/iifname/oif/oifname, "
              "ip/ip6 saddr/daddr, ct state, ct [original|reply] packets/bytes, counter, comment")
_STARTS = frozenset(("meta", "iifname", "oifname", "iif", "oif", "ip", "ip6", "ct", "counter", "comment", "flow"))


def _is_word(it: Optional[Item], *texts: str) -> bool:
    return isinstance(it, Tok) and it.kind == "word" and (not texts or it.text in texts)


def _flow_statement(rule: Rule) -> Optional[Tuple[int, str]]:
    """(index of `flow`, flowtable name) when the rule holds `flow add @NAME`."""
    it = rule.items
    for k in range(len(it) - 2):
        if _is_word(it[k], "flow") and _is_word(it[k + 1], "add", "offload") and _is_word(it[k + 2]) \
                and it[k + 2].text.startswith("@"):
            return k, it[k + 2].text[1:]
    return None


class _RuleReader:
    """The expressions in front of `flow add`, left to right."""

    def __init__(self, items: List[Item], source: str, rule_line: int):
        self.items = items
        self.k = 0
        self.source = source
        self.rule_line = rule_line
        self.rule: Dict[str, Any] = {}
        self.families: List[Tuple[str, str]] = []  # (ipv4|ipv6, why)
        self.notes: List[str] = []
        self._count_seen = False

    def line(self, k: Optional[int] = None) -> int:
        k = self.k if k is None else k
        if k < len(self.items):
            return self.items[k].line
        return self.items[-1].line if self.items else self.rule_line

    def error_at(self, start: int, msg: str) -> RulesetError:
        return RulesetError(self.source, self.line(start), msg)

    def unsupported(self, start: int) -> RulesetError:
        end = start + 1
        while end < len(self.items) and not _is_word(self.items[end], *_STARTS):
            end += 1
        expr = " ".join(_item_text(x) for x in self.items[start:end])
        return self.error_at(start, f"`{expr}` in front of `flow add` is not supported (pyflow models {_SUPPORTED}); "
                                    "remove it from the rule or model it by hand (pyflow.replay offload_rule=...)")

    def take(self) -> Item:
        it = self.items[self.k]
        self.k += 1
        return it

    def peek(self) -> Optional[Item]:
        return self.items[self.k] if self.k < len(self.items) else None

    def read(self) -> Dict[str, Any]:
        while self.k < len(self.items):
            start = self.k
            it = self.take()
            if not _is_word(it):
                raise self.unsupported(start)
            w = it.text
            if w == "counter":
                self.skip_counter()
            elif w == "comment":
                nxt = self.peek()
                if nxt is None or not isinstance(nxt, Tok) or nxt.kind not in ("string", "word"):
                    raise self.error_at(start, "comment without a text")
                self.k += 1
            elif w == "meta":
                key = self.take() if self.peek() is not None else None
                if not _is_word(key):
                    raise self.unsupported(start)
                self.meta(key.text, start)
            elif w in ("iifname", "oifname", "iif", "oif"):
                self.meta(w, start)
            elif w in ("ip", "ip6"):
                key = self.take() if self.peek() is not None else None
                if not _is_word(key):
                    raise self.unsupported(start)
                self.payload(w, key.text, start)
            elif w == "ct":
                self.ct(start)
            else:
                raise self.unsupported(start)
        return self.rule

    def skip_counter(self) -> None:
        # `counter`, `counter packets 12 bytes 3456` (list output), `counter name "x"`
        while _is_word(self.peek(), "packets", "bytes", "name"):
            self.k += 1
            if self.peek() is not None:
                self.k += 1

    def op(self, start: int, ordered: bool) -> str:
        nxt = self.peek()
        if _is_word(nxt) and nxt.text in _CMP_WORDS:
            self.k += 1
            cmp = _CMP_WORDS[nxt.text]
            if cmp == "eq":
                return cmp
            if cmp == "ne" and not ordered:
                raise self.error_at(start, f"negated match in `{self.expr_text(start)}` is not supported in front "
                                           "of `flow add` (pyflow models matches of a value or a set)")
            if not ordered:
                raise self.error_at(start, f"operator {nxt.text!r} in `{self.expr_text(start)}` is not supported")
            return cmp
        return "eq"

    def expr_text(self, start: int) -> str:
        end = min(len(self.items), self.k + 1)
        return " ".join(_item_text(x) for x in self.items[start:end])

    def values(self, start: int) -> Tuple[List[Item], int]:
        """A single value, a flag list `a,b` or a set: the list of value items and their line."""
        it = self.peek()
        if it is None:
            raise self.error_at(start, f"`{self.expr_text(start)}` without a value")
        self.k += 1
        if isinstance(it, SetExpr):
            vals: List[Item] = []
            for el in it.elements:
                if len(el) != 1:
                    raise self.error_at(start, f"set element `{' '.join(_item_text(x) for x in el)}` in "
                                               f"`{self.expr_text(start)}` is not supported")
                vals.append(el[0])
            return vals, it.line
        if isinstance(it, Tok) and it.kind in ("word", "string"):
            vals = [it]
            while isinstance(self.peek(), Tok) and self.peek().kind == ",":
                self.k += 1
                nxt = self.peek()
                if nxt is None or not isinstance(nxt, Tok) or nxt.kind not in ("word", "string"):
                    raise self.error_at(start, "a ',' list must end with a value")
                vals.append(nxt)
                self.k += 1
            return vals, it.line
        raise self.error_at(start, f"`{self.expr_text(start)}`: expected a value")

    def check_plain(self, start: int, vals: List[Item]) -> List[str]:
        out = []
        for v in vals:
            if isinstance(v, SetExpr) or v.text.startswith("@") or v.text.startswith("$"):
                raise self.error_at(start, f"`{self.expr_text(start)}`: named sets, maps and variables are not "
                                           "supported (write the elements as an anonymous set)")
            out.append(v.text)
        return out

    def meta(self, key: str, start: int) -> None:
        if key in ("l4proto",):
            self.op(start, ordered=False)
            vals = self.check_plain(start, self.values(start)[0])
            self.l4proto(vals)
        elif key == "nfproto":
            self.op(start, ordered=False)
            vals = self.check_plain(start, self.values(start)[0])
            fams = set()
            for v in vals:
                if v not in ("ipv4", "ipv6"):
                    raise self.error_at(start, f"meta nfproto {v!r}: pyflow forwards only ipv4 and ipv6")
                fams.add(v)
            if len(fams) == 1:
                self.families.append((fams.pop(), f"meta nfproto"))
        elif key == "protocol":
            self.op(start, ordered=False)
            vals = self.check_plain(start, self.values(start)[0])
            fams = set()
            for v in vals:
                if v not in ("ip", "ip6"):
                    raise self.error_at(start, f"meta protocol {v!r}: only ip and ip6 packets can be offloaded")
                fams.add("ipv4" if v == "ip" else "ipv6")
            if len(fams) == 1:
                self.families.append((fams.pop(), "meta protocol"))
        elif key in ("iifname", "oifname", "iif", "oif"):
            self.op(start, ordered=False)
            vals = self.check_plain(start, self.values(start)[0])
            for v in vals:
                if "*" in v:
                    raise self.error_at(start, f"wildcard interface name {v!r} is not supported")
            field_ = "iifname" if key.startswith("i") else "oifname"
            self.intersect(field_, vals)
        else:
            raise self.unsupported(start)

    def l4proto(self, vals: List[str]) -> None:
        protos = []
        for v in vals:
            if v in _L4:
                protos.append(_L4[v])
            else:
                self.notes.append(f"l4proto {v} dropped: the flowtable offloads only tcp and udp")
        self.intersect("l4proto", protos)

    def intersect(self, key: str, vals: List[str]) -> None:
        uniq = list(dict.fromkeys(vals))
        if key in self.rule:
            self.rule[key] = [v for v in self.rule[key] if v in uniq]
        else:
            self.rule[key] = uniq

    def payload(self, proto: str, key: str, start: int) -> None:
        fam = "ipv4" if proto == "ip" else "ipv6"
        if (proto, key) in (("ip", "protocol"), ("ip6", "nexthdr")):
            self.op(start, ordered=False)
            self.l4proto(self.check_plain(start, self.values(start)[0]))
            self.families.append((fam, f"{proto} {key}"))
            return
        if key not in ("saddr", "daddr"):
            raise self.unsupported(start)
        self.op(start, ordered=False)
        vals = self.check_plain(start, self.values(start)[0])
        nets = []
        for v in vals:
            if "-" in v:
                raise self.error_at(start, f"address range {v!r} is not supported (use prefixes)")
            try:
                net = ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise self.error_at(start, f"{proto} {key}: {v!r} is not an address or prefix") from None
            if net.version != (4 if proto == "ip" else 6):
                raise self.error_at(start, f"{proto} {key}: {v!r} is not an IPv{4 if proto == 'ip' else 6} address")
            nets.append(str(net))
        if key in self.rule:
            raise self.error_at(start, f"a second {key} condition in one rule is not supported")
        self.families.append((fam, f"{proto} {key}"))
        if len(nets) > 8:
            raise self.error_at(start, f"{proto} {key}: at most 8 prefixes are supported, found {len(nets)}")
        self.rule[key] = nets

    def ct(self, start: int) -> None:
        key = self.take() if self.peek() is not None else None
        if not _is_word(key):
            raise self.unsupported(start)
        direction = "both"
        if key.text in ("original", "reply"):
            direction = key.text
            key = self.take() if self.peek() is not None else None
            if not _is_word(key):
                raise self.unsupported(start)
        if key.text == "state" and direction == "both":
            self.op(start, ordered=False)
            vals = self.check_plain(start, self.values(start)[0])
            for v in vals:
                if v not in ("new", "established", "related"):
                    raise self.error_at(start, f"ct state {v!r} is not supported in front of `flow add` "
                                               "(new, established, related)")
            self.intersect("ct_state", vals)
        elif key.text in ("packets", "bytes"):
            if self._count_seen:
                raise self.error_at(start, "a second ct packets/bytes condition in one rule is not supported")
            self._count_seen = True
            cmp = self.op(start, ordered=True)
            vals, _ = self.values(start)
            if len(vals) != 1 or not isinstance(vals[0], Tok):
                raise self.error_at(start, f"`{self.expr_text(start)}`: expected one number")
            text = vals[0].text
            if "-" in text:
                raise self.error_at(start, f"ct {key.text} range {text!r} is not supported")
            try:
                value = int(text, 0)
            except ValueError:
                raise self.error_at(start, f"ct {key.text}: {text!r} is not a number") from None
            if value < 0:
                raise self.error_at(start, f"ct {key.text}: {value} is negative")
            self.rule["ct_count"] = {"kind": key.text, "dir": direction, "cmp": cmp, "value": value}
        else:
            raise self.unsupported(start)

    def finish(self, table_family: str) -> Tuple[Dict[str, Any], List[str]]:
        fams = list(self.families)
        if table_family in ("ip", "ip6"):
            fams.append(("ipv4" if table_family == "ip" else "ipv6", f"table family {table_family}"))
        rule = dict(self.rule)
        rule.setdefault("l4proto", ["tcp", "udp"])
        wanted = {f for f, _ in fams}
        never = len(wanted) > 1
        if len(wanted) == 1:
            fam = wanted.pop()
            version = 4 if fam == "ipv4" else 6
            for key in ("saddr", "daddr"):
                if key in rule:
                    kept = [p for p in rule[key] if ipaddress.ip_network(p).version == version]
                    if not kept:
                        never = True
                    rule[key] = kept
            if not never and "saddr" not in rule and "daddr" not in rule:
                rule["saddr"] = ["0.0.0.0/0" if version == 4 else "::/0"]
        if never:
            self.notes.append("the conditions exclude each other (IPv4 and IPv6): the rule matches no packet")
            rule = {"l4proto": []}
        return rule, self.notes


# --------------------------------------------------------------------------- result

def default_interface(device: str) -> str:
    """The topology interface of a device without a device_map entry: WAN for wan*/pppoe*."""
    return "wan" if device.startswith(("wan", "pppoe")) else "lan"


@dataclass
class NftOffload:
    """What `nft list ruleset` says about flow offloading."""

    source: str
    table: Optional[str] = None            # "inet fw4": the table of the offload rule / flowtable
    flowtable: Optional[str] = None        # "ft"
    hook: Optional[str] = None             # "ingress"
    priority: Optional[str] = None         # "filter", "0", ...
    devices: List[str] = field(default_factory=list)  # as written: "lan1", "wan", "phy0-ap0"
    offload: bool = False                  # `flags offload`: hardware offload
    counter: bool = False                  # `counter`: fast-path packets update the ct counters
    rule: Optional[Dict[str, Any]] = None  # the offload rule (pyflow Options.offload_rule); None: no flow add
    rule_line: Optional[int] = None
    rule_text: Optional[str] = None
    chain: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def mode(self) -> str:
        """pyflow mode: "hw" with `flags offload`, "sw" without, "none" without a flowtable or a
        `flow add` statement."""
        if self.flowtable is None or self.rule is None:
            return "none"
        return "hw" if self.offload else "sw"

    def interface_of(self, device: str, device_map: Optional[Mapping[str, str]] = None) -> str:
        if device_map is not None and device in device_map:
            return device_map[device]
        return default_interface(device)

    def to_options(self, device_map: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
        """Keyword arguments for pyflow.replay / pyflow.Options: mode, offload_rule,
        flowtable_counter and flowtable_devices (devices mapped to topology interfaces)."""
        def ifaces(devs: Sequence[str]) -> List[str]:
            return list(dict.fromkeys(self.interface_of(d, device_map) for d in devs))

        opts: Dict[str, Any] = {"mode": self.mode}
        if self.rule is None:
            opts["offload_rule"] = {"present": False}
        else:
            rule = dict(self.rule)
            for key in ("iifname", "oifname"):
                if key in rule:
                    rule[key] = ifaces(rule[key])
            opts["offload_rule"] = rule
        if self.flowtable is not None:
            opts["flowtable_counter"] = self.counter
            opts["flowtable_devices"] = ifaces(self.devices)
        return opts


def parse_ruleset(text: str, *, source: str = "<ruleset>") -> NftOffload:
    """Parse the text of `nft list ruleset` (RulesetError, a ConfigError, on anything pyflow cannot
    model faithfully)."""
    tables = _Parser(tokenize(text, source), source, text).ruleset()
    found: List[Tuple[Table, Chain, int, Rule, int, str]] = []
    for table in tables:
        for chain in table.chains:
            for idx, rule in enumerate(chain.rules):
                fs = _flow_statement(rule)
                if fs is not None:
                    found.append((table, chain, idx, rule, fs[0], fs[1]))
    result = NftOffload(source)
    if len(found) > 1:
        lines = ", ".join(str(f[3].line) for f in found)
        raise RulesetError(source, found[1][3].line, f"several `flow add` rules (lines {lines}): pyflow models one "
                                                     "offload rule")
    if not found:
        fts = [(t, f) for t in tables for f in t.flowtables]
        if fts:
            t, f = fts[0]
            _fill_flowtable(result, t, f)
            result.notes.append(f"flowtable {f.name} exists but no rule adds flows to it: nothing is offloaded")
        return result
    table, chain, idx, rule, k, ft_name = found[0]
    if chain.hook != "forward" or chain.type is None:
        raise RulesetError(source, rule.line, f"`flow add` in chain {chain.name}, which is not a forward base chain: "
                                              "the conditions of the jumps to it are not modelled")
    if table.family not in ("inet", "ip", "ip6"):
        raise RulesetError(source, rule.line, f"`flow add` in a table of family {table.family}: not modelled")
    for before in chain.rules[:idx]:
        verdicts = sorted({x.text for x in _flat(before.items) if _is_word(x) and x.text in _VERDICTS})
        if verdicts:
            raise RulesetError(source, before.line,
                               f"rule `{before.text}` comes before the offload rule (line {rule.line}) in chain "
                               f"{chain.name} and has a verdict ({', '.join(verdicts)}): the packets it decides never "
                               "reach `flow add`; pyflow does not model it")
    ft = next((f for f in table.flowtables if f.name == ft_name), None)
    if ft is None:
        raise RulesetError(source, rule.line, f"`flow add @{ft_name}`: no flowtable {ft_name} in table "
                                              f"{table.family} {table.name}")
    _fill_flowtable(result, table, ft)
    reader = _RuleReader(rule.items[:k], source, rule.line)
    reader.read()
    # Statements after `flow add @ft` (counter, accept, ...) are ignored: flow add neither ends the
    # rule nor changes the verdict, so they cannot change which packets add a flow.
    result.rule, notes = reader.finish(table.family)
    result.notes.extend(notes)
    result.rule_line = rule.line
    result.rule_text = rule.text
    result.chain = chain.name
    return result


def _flat(items: Sequence[Item]) -> Iterator[Item]:
    for it in items:
        if isinstance(it, SetExpr):
            for el in it.elements:
                yield from _flat(el)
        else:
            yield it


def _fill_flowtable(result: NftOffload, table: Table, ft: Flowtable) -> None:
    result.table = f"{table.family} {table.name}"
    result.flowtable = ft.name
    result.hook = ft.hook
    result.priority = ft.priority
    result.devices = list(ft.devices)
    result.offload = ft.offload
    result.counter = ft.counter


def load_ruleset(path: Union[str, os.PathLike]) -> NftOffload:
    """parse_ruleset on a file (`nft list ruleset > ruleset.nft` on the router)."""
    spath, text = read_text(path, " the ruleset")
    return parse_ruleset(text, source=spath)
