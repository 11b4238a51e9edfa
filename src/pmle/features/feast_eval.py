"""Static evaluation of a Feast repository's Python files (`ast`), for
:mod:`pmle.features.feast_repo`: module-level assignments, imports between the repository's
files, and the few calls repositories use to build values (`timedelta`, `Duration`,
`os.path.join`, `Path(__file__).parent / …`). No repository code runs; Feast objects are
collected as `_Obj` records of their call's arguments.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Any

from pmle.errors import InvalidInput

#: Calls evaluated as values rather than collected as Feast objects.
_HELPERS = {"Duration", "Path", "PurePath", "PosixPath", "Array", "Set"}
_PATH_FUNCS: dict[str, Callable[..., str]] = {
    "join": os.path.join,
    "dirname": os.path.dirname,
    "abspath": os.path.abspath,
    "realpath": os.path.realpath,
    "basename": os.path.basename,
}


# -- static evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ext:
    """A name from outside the repository (`feast.FileSource`, `datetime.timedelta`)."""

    qualname: str

    @property
    def last(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class _Bound:
    """A method of a path (`Path(__file__).resolve`), about to be called."""

    path: PurePath
    method: str


@dataclass(frozen=True)
class _Unknown:
    """An expression pmle does not evaluate statically."""

    text: str


@dataclass(frozen=True)
class _Import:
    module: str
    name: str | None  # None: `import module`


@dataclass
class _Module:
    name: str
    rel: str
    path: Path
    tree: ast.Module | None = None
    symbols: dict[str, Any] = field(default_factory=dict)  # name → expr | _Import | statement


class _Obj:
    """A call that builds a Feast object; its arguments are evaluated when asked for."""

    def __init__(self, kind: str, node: ast.Call, module: _Module, parser: _Parser) -> None:
        self.kind, self.node, self.module, self._parser = kind, node, module, parser
        self.file, self.line = module.rel, node.lineno

    def has(self, key: str) -> bool:
        return any(k.arg == key for k in self.node.keywords)

    def get(self, key: str, default: Any = None, position: int | None = None) -> Any:
        for kw in self.node.keywords:
            if kw.arg == key:
                return self._parser.value(kw.value, self.module)
        if position is not None and len(self.node.args) > position:
            return self._parser.value(self.node.args[position], self.module)
        return default

    def text(self, key: str, default: str = "", position: int | None = None) -> str:
        """A string argument; an error when it is not a value pmle can read statically."""
        value = self.get(key, default, position)
        if value is None:
            return default
        if not isinstance(value, str | int | float | PurePath):
            raise InvalidInput(
                f"{self.where}: {key}= of {self.kind} is not a value pmle can read statically "
                f"({_shown(value)})",
                hint="write it as a literal or a module-level constant",
            )
        return str(value)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def __repr__(self) -> str:
        return f"{self.kind}(…) at {self.where}"


def _shown(value: Any) -> str:
    """An evaluated value as the source showed it, for messages."""
    if isinstance(value, _Unknown):
        return value.text
    if isinstance(value, _Ext):
        return value.qualname.removeprefix("builtins.")
    return repr(value)


def _plain(values: list[Any]) -> bool:
    return all(isinstance(v, str | int | float | PurePath) for v in values)


class _Parser:
    """Evaluates the module-level values of a repository's files, lazily and memoised."""

    def __init__(self, root: Path) -> None:
        self.modules: dict[str, _Module] = {}
        for folder, dirs, names in os.walk(root):
            # hidden folders, caches and virtual environments hold no definitions
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".")
                and d != "__pycache__"
                and not (Path(folder, d, "pyvenv.cfg")).exists()
            )
            for file_name in sorted(n for n in names if n.endswith(".py")):
                path = Path(folder, file_name)
                parts = list(path.relative_to(root).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                if parts:  # Feast imports each file as a module named by its path
                    name = ".".join(parts)
                    self.modules[name] = _Module(name, str(path.relative_to(root)), path)
        self.modules = dict(sorted(self.modules.items(), key=lambda kv: kv[1].path))  # as Feast
        self._memo: dict[int, Any] = {}
        self._active: set[tuple[str, str]] = set()

    def load(self, module: _Module) -> _Module:
        if module.tree is not None:
            return module
        try:
            module.tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
        except SyntaxError as exc:
            raise InvalidInput(
                f"{module.rel}:{exc.lineno}: not valid Python ({exc.msg})",
                hint="fix the file, or list it in .feastignore",
            ) from None
        except (RecursionError, MemoryError):
            raise InvalidInput(f"{module.rel}: too deeply nested to parse") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {module.rel}: {exc}") from None
        package = module.name.split(".")[:-1]
        for stmt in module.tree.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        module.symbols[target.id] = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if stmt.value is not None:
                    module.symbols[stmt.target.id] = stmt.value
            elif isinstance(stmt, ast.ImportFrom):
                base = stmt.module or ""
                if stmt.level:  # relative to the module's package
                    up = package[: len(package) - stmt.level + 1]
                    base = ".".join([*up, base] if base else up)
                for alias in stmt.names:
                    module.symbols[alias.asname or alias.name] = _Import(base, alias.name)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    module.symbols[bound] = _Import(alias.name if alias.asname else bound, None)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                module.symbols[stmt.name] = stmt
        return module

    def symbol(self, module: _Module, name: str) -> Any:
        """The value bound to `name` at the top level of `module`."""
        self.load(module)
        if name == "__file__":
            return str(module.path)
        bound = module.symbols.get(name)
        if bound is None:
            return _Ext(f"builtins.{name}")
        if isinstance(bound, _Import):
            target = self.modules.get(bound.module)
            if bound.name is None:
                return target if target is not None else _Ext(bound.module)
            if target is not None:
                return self.symbol(target, bound.name)
            inner = self.modules.get(f"{bound.module}.{bound.name}".lstrip("."))
            return inner if inner is not None else _Ext(f"{bound.module}.{bound.name}")
        if isinstance(bound, ast.stmt):
            return bound
        key = (module.name, name)
        if key in self._active:  # a cycle of assignments
            return _Unknown(name)
        self._active.add(key)
        try:
            return self.value(bound, module)
        finally:
            self._active.discard(key)

    def value(self, node: ast.expr, module: _Module) -> Any:
        """A value for an expression: constants, containers, paths, Feast objects (`_Obj`),
        external names (`_Ext`), or `_Unknown`."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [self.value(e, module) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {
                None if k is None else self.value(k, module): self.value(v, module)
                for k, v in zip(node.keys, node.values, strict=True)
            }
        if isinstance(node, ast.Name):
            return self.symbol(module, node.id)
        if isinstance(node, ast.Call):
            if id(node) not in self._memo:  # one object per call, however often it is named
                self._memo[id(node)] = self._call(node, module)
            return self._memo[id(node)]
        if isinstance(node, ast.Attribute):
            base = self.value(node.value, module)
            if isinstance(base, _Module):
                return self.symbol(base, node.attr)
            if isinstance(base, _Ext):
                return _Ext(f"{base.qualname}.{node.attr}")
            if isinstance(base, PurePath) and node.attr in {"parent", "name", "stem"}:
                return getattr(base, node.attr)
            if isinstance(base, PurePath) and node.attr in {"resolve", "absolute", "joinpath"}:
                return _Bound(base, node.attr)
            if isinstance(base, _Obj) and node.attr == "name":
                return base.get("name", position=0)
        elif isinstance(node, ast.BinOp):
            left, right = self.value(node.left, module), self.value(node.right, module)
            if isinstance(node.op, ast.Div) and isinstance(left, PurePath) and _plain([right]):
                return left / str(right)
            if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
                return left + right
            numbers = all(isinstance(x, int | float) for x in (left, right))
            if numbers and isinstance(node.op, ast.Add | ast.Mult):  # timedelta(seconds=60 * 60)
                return left + right if isinstance(node.op, ast.Add) else left * right
        elif isinstance(node, ast.JoinedStr):
            parts = [
                self.value(v.value, module) if isinstance(v, ast.FormattedValue) else v.value
                for v in node.values
                if isinstance(v, ast.FormattedValue | ast.Constant)
            ]
            if _plain(parts):
                return "".join(str(p) for p in parts)
        return _Unknown(ast.unparse(node))

    def _call(self, node: ast.Call, module: _Module) -> Any:
        callee = self.value(node.func, module)
        name = callee.last if isinstance(callee, _Ext) else ""
        if name[:1].isupper() and name not in _HELPERS:
            return _Obj(name, node, module, self)
        unknown = _Unknown(ast.unparse(node))
        args = [self.value(a, module) for a in node.args]
        kwargs = {k.arg: self.value(k.value, module) for k in node.keywords if k.arg}
        if name in {"Array", "Set"}:  # a Feast collection type
            return _Ext(f"{name}({', '.join(getattr(a, 'last', str(a)) for a in args)})")
        if not _plain([*args, *kwargs.values()]):
            return unknown
        try:
            if isinstance(callee, _Bound):
                if callee.method == "joinpath":
                    return callee.path.joinpath(*map(str, args))
                return getattr(Path(callee.path), callee.method)()
            if name == "timedelta":
                return timedelta(*args, **kwargs)
            if name == "Duration":
                seconds = kwargs.get("seconds", args[0] if args else 0)
                return timedelta(seconds=seconds + kwargs.get("nanos", 0) / 1e9)
            if name in {"Path", "PurePath", "PosixPath"}:
                return Path(*map(str, args))
            qualname = callee.qualname if isinstance(callee, _Ext) else ""
            if qualname.startswith(("os.path.", "posixpath.")) and name in _PATH_FUNCS:
                return _PATH_FUNCS[name](*map(str, args))
            if qualname in {"builtins.str", "os.fspath"} and len(args) == 1:
                return str(args[0])
        except (TypeError, ValueError, OverflowError):
            pass
        return unknown
