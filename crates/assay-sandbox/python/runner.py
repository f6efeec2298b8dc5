# The interpreter side of Assay's Python sandbox. Started once per sandboxed interpreter
# (`python3 -I -B -c <this file>`); it then serves requests from the host until its input
# closes. Frames in both directions are a 4-byte big-endian length followed by that many bytes
# of UTF-8 JSON. The protocol pipes are stdin/stdout at start; they are moved to private file
# descriptors at once, fd 0 becomes /dev/null and fd 1 joins fd 2, so whatever user code prints
# goes to the host's bounded log reader and never into the protocol.
#
# Requests: {"op": "check", "source", "filename"}  syntax and top-level functions, no execution
#           {"op": "load", "source", "filename"}   execute the module once
#           {"op": "call", "function", "args", "ctx"}  call a loaded function
#           {"op": "map", "function", "items"}     call a one-argument function per item
# Replies:  {"ok": value, "cpu": seconds} or {"error": {"type", "message", "traceback"}, "cpu"}
# While a call runs, `ctx` helpers send {"op": "model", "kind", "params"} and wait for the
# host's {"ok": result} or {"error": {...}}.

import ast
import json
import math
import os
import resource
import signal
import sys
import traceback

_IN = os.dup(0)
_OUT = os.dup(1)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.dup2(2, 1)
os.set_inheritable(_IN, False)
os.set_inheritable(_OUT, False)
_PID = os.getpid()
_MAX_FRAME = 256 * 1024 * 1024
_module = None


def _read_exact(n):
    chunks = []
    while n > 0:
        chunk = os.read(_IN, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _receive():
    head = _read_exact(4)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > _MAX_FRAME:
        raise SystemExit("frame too large")
    body = _read_exact(size)
    if body is None:
        return None
    return json.loads(body)


def _send(message):
    if os.getpid() != _PID:
        # A process forked by user code must never speak for the interpreter.
        os._exit(0)
    body = json.dumps(message, allow_nan=False, ensure_ascii=False).encode("utf-8")
    data = len(body).to_bytes(4, "big") + body
    view = memoryview(data)
    while view:
        written = os.write(_OUT, view)
        view = view[written:]


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _error(kind, message, tb=None):
    return {"type": kind, "message": message, "traceback": tb}


def _raised(exc):
    # The traceback starts at the user's code: this runner's own frames are left out.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _raised.__code__.co_filename:
        tb = tb.tb_next
    return _error(
        type(exc).__name__,
        str(exc),
        "".join(traceback.format_exception(type(exc), exc, tb)),
    )


class ModelCallError(Exception):
    """A model call through the sandbox bridge failed."""


class _Result(dict):
    """A JSON object whose keys can also be read as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _wrap(value):
    if isinstance(value, dict):
        return _Result({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Context:
    """What a grader receives as `ctx`: model helpers that go through the host's gateway."""

    def __init__(self, info):
        self.info = _wrap(info or {})

    def _call(self, kind, params):
        try:
            _send({"op": "model", "kind": kind, "params": params})
        except (TypeError, ValueError) as exc:
            raise ModelCallError(f"the {kind} parameters are not JSON: {exc}") from None
        reply = _receive()
        if reply is None:
            os._exit(0)
        if "error" in reply:
            err = reply["error"]
            raise ModelCallError(f"{err.get('type', 'error')}: {err.get('message', '')}")
        return _wrap(reply.get("ok"))

    def responses_create(self, **params):
        """Calls the Responses API of `model` (default `auto`: the run's judge model)."""
        return self._call("responses", params)

    def embeddings_create(self, **params):
        """Embeds `input` with `model` (default `auto`: the run's embedding model)."""
        return self._call("embeddings", params)


def _finite(value):
    """Whether `value` holds no NaN or infinity anywhere."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < 1e300
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


def _arity(node):
    """(least, most) positional arguments a function definition accepts; most is None
    with *args."""
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    least = positional - len(args.defaults)
    return least, (None if args.vararg else positional)


def _check(request):
    try:
        tree = ast.parse(request["source"], filename=request.get("filename", "<grader>"))
    except SyntaxError as exc:
        return {"error": {"type": "SyntaxError", "message": exc.msg or "invalid syntax",
                          "line": exc.lineno, "offset": exc.offset, "traceback": None}}
    except (ValueError, RecursionError, MemoryError) as exc:
        return {"error": _error(type(exc).__name__, str(exc))}
    functions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            least, most = _arity(node)
            functions[node.name] = {"least": least, "most": most,
                                    "is_async": isinstance(node, ast.AsyncFunctionDef)}
    return {"ok": {"functions": functions}}


def _load(request):
    global _module
    namespace = {"__name__": "__grader__", "__builtins__": __builtins__,
                 "ModelCallError": ModelCallError}
    try:
        code = compile(request["source"], request.get("filename", "<grader>"), "exec")
        exec(code, namespace)
    except BaseException as exc:  # noqa: B902 - user code may raise anything, SystemExit too
        return {"error": _raised(exc)}
    _module = namespace
    return {"ok": True}


def _function(name):
    function = _module.get(name) if _module is not None else None
    if not callable(function):
        raise LookupError(f"the module defines no function {name}()")
    return function


def _accepts(function, n):
    code = getattr(function, "__code__", None)
    if code is None:
        return True
    if code.co_flags & 0x04:  # *args
        return True
    defaults = len(getattr(function, "__defaults__", None) or ())
    return code.co_argcount - defaults <= n <= code.co_argcount


def _call(request):
    try:
        function = _function(request["function"])
        args = list(request.get("args", []))
        if "ctx" in request and _accepts(function, len(args) + 1):
            args.append(Context(request["ctx"]))
        result = function(*args)
    except BaseException as exc:  # noqa: B902
        return {"error": _raised(exc)}
    return _result(result)


def _too_slow(signum, frame):
    raise TimeoutError("took longer than timeout_seconds")


def _map(request):
    try:
        function = _function(request["function"])
    except LookupError as exc:
        return {"error": _raised(exc)}
    results = []
    per_item = request.get("item_seconds")
    previous = signal.signal(signal.SIGALRM, _too_slow) if per_item else None
    try:
        for index, item in enumerate(request.get("items", [])):
            try:
                if per_item:
                    signal.setitimer(signal.ITIMER_REAL, per_item)
                results.append(function(item))
            except BaseException as exc:  # noqa: B902
                error = _raised(exc)
                error["index"] = index
                return {"error": error}
            finally:
                if per_item:
                    signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        if per_item:
            signal.signal(signal.SIGALRM, previous)
    return _result(results)


def _result(value):
    # Whether it is JSON at all is found when the reply is sent.
    try:
        finite = _finite(value)
    except RecursionError:
        return {"error": _error("InvalidReturn", "the return value is nested too deeply")}
    if not finite:
        return {"error": _error("InvalidReturn", "the function returned NaN or infinity")}
    return {"ok": value}


_HANDLERS = {"check": _check, "load": _load, "call": _call, "map": _map}


def main():
    _, hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        try:
            request = _receive()
        except (ValueError, SystemExit):
            return
        if request is None:
            return
        handler = _HANDLERS.get(request.get("op"))
        if handler is None:
            reply = {"error": _error("ProtocolError", f"unknown op {request.get('op')!r}")}
        else:
            limit = request.get("cpu_seconds")
            if limit:
                # CPU time for this request only: the used time plus the request's budget,
                # never above the hard limit the host set.
                want = int(_cpu()) + int(limit) + 1
                if hard_cpu != resource.RLIM_INFINITY:
                    want = min(want, hard_cpu)
                try:
                    resource.setrlimit(resource.RLIMIT_CPU, (want, hard_cpu))
                except (ValueError, OSError):
                    pass
            reply = handler(request)
        reply["cpu"] = _cpu()
        try:
            _send(reply)
        except (TypeError, ValueError, RecursionError) as exc:
            _send({"error": _error("InvalidReturn", f"the return value is not JSON: {exc}"),
                   "cpu": _cpu()})
        sys.stdout.flush()


main()
