"""Plugin discovery and the registry of encoders, decoders, bridges and writers.

Plugins are modules named by entry points in the ``score`` group. One bad plugin never takes the others down:
a plugin that fails to import (``SystemExit`` included), whose hook raises, or that claims a name another plugin
already holds is recorded as failed, with the reason, and everything else loads. Who keeps a contested name:
score-core's built-in plugin, then this project's own distributions, then the others by ``tryfirst``/``trylast``
of their hooks and then by the time they were installed.
``SCORE_PLUGINS=a,b`` pins which entry points (or distributions) load.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Generic, TypeVar

import pluggy

from score_core import hookspecs
from score_core.errors import PluginError
from score_core.registrations import (
    BridgeRegistration,
    DecoderRegistration,
    EncoderRegistration,
    Registration,
    WriterRegistration,
    build_stage,
    parse_options,
)

ENTRY_POINT_GROUP = "score"
BUILTIN_PLUGIN = "score-core"
PROJECT_DISTRIBUTIONS = frozenset(
    {"score-core", "score-cli", "score-vision", "score-music", "score-text", "score-studio"}
)
"""Distributions of this project: on a clash of names they keep theirs over third-party plugins."""

R = TypeVar("R", bound=Registration)


@dataclass(frozen=True)
class PluginInfo:
    """A plugin that loaded: its entry-point name, distribution, version and what it registered."""

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    reason: str


@dataclass(frozen=True)
class Origin:
    """The plugin (entry-point name) and distribution a registration came from."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} (plugin '{self.plugin}')"


class Catalogue(Generic[R]):
    """Registrations of one kind, by name and alias, remembering which plugin gave each."""

    def __init__(self, kind: str, registration_type: type[Any], unique: Callable[[Any], list[str]] | None = None):
        self.kind = kind
        self.registration_type = registration_type
        self._unique = unique or (lambda registration: [])
        self._by_name: dict[str, R] = {}
        self._owner: dict[str, Origin] = {}
        self._aliases: dict[str, str] = {}
        self._claims: dict[str, str] = {}

    def _find(self, key: str) -> R | None:
        return self._by_name.get(key) or self._by_name.get(self._aliases.get(key, ""))

    def conflict(self, registration: Any, taken: Collection[str] = ()) -> str | None:
        """Why ``registration`` cannot be added (wrong type, a name or claim already held), or None."""
        if not isinstance(registration, self.registration_type):
            return f"registered a {type(registration).__name__} as {self.kind}, not a {self.registration_type.__name__}"
        for key in (registration.name, *registration.aliases):
            clash = self._find(key)
            if clash is not None:
                return f"{self.kind} '{key}' is already registered by {self._owner[clash.name]}"
            if f"name {key}" in taken:
                return f"{self.kind} '{key}' is registered twice by this plugin"
        for claim in self._unique(registration):
            if claim in self._claims:
                holder = self._claims[claim]
                return f"{self.kind} '{registration.name}': {claim} is already taken by {self.kind} '{holder}' " \
                       f"of {self._owner[holder]}"
        return None

    def add(self, registration: R, owner: Origin) -> None:
        """Add a registration that has no conflict (see ``conflict``)."""
        self._by_name[registration.name] = registration
        self._owner[registration.name] = owner
        for alias in registration.aliases:
            self._aliases[alias] = registration.name
        for claim in self._unique(registration):
            self._claims[claim] = registration.name

    def get(self, name: str) -> R:
        registration = self._find(name)
        if registration is None:
            known = sorted({*self._by_name, *self._aliases})
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known) or 'none'}"
            raise PluginError(f"{self.kind} '{name}'", f"no such {self.kind} installed; {hint}")
        return registration

    def owner(self, name: str) -> Origin:
        return self._owner[self.get(name).name]

    def all(self) -> list[R]:
        return [self._by_name[name] for name in sorted(self._by_name)]


def _distribution_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return entry_point.value.split(":")[0], "unknown"
    return dist.metadata["Name"], dist.version


def _installed_at(entry_point: metadata.EntryPoint) -> float:
    """When the entry point's distribution was installed (its metadata folder's time), for first-come order."""
    path = getattr(entry_point.dist, "_path", None)
    try:
        return os.stat(path).st_mtime if path is not None else float("inf")
    except OSError:
        return float("inf")


def install_order(points: Iterable[metadata.EntryPoint]) -> list[metadata.EntryPoint]:
    """Entry points by precedence: this project's distributions, then the others in the order they were installed."""
    return sorted(
        points,
        key=lambda ep: (_distribution_of(ep)[0] not in PROJECT_DISTRIBUTIONS, _installed_at(ep), ep.name),
    )


def selected_entry_points(pinned: str | None = None) -> list[metadata.EntryPoint]:
    """Entry points of the ``score`` group by precedence (``install_order``), limited to ``pinned``
    (or ``$SCORE_PLUGINS``) when set."""
    pinned = os.environ.get("SCORE_PLUGINS") if pinned is None else pinned
    points = install_order(metadata.entry_points(group=ENTRY_POINT_GROUP))
    if not pinned:
        return points
    wanted = {name.strip() for name in pinned.split(",") if name.strip()}
    return [ep for ep in points if ep.name in wanted or _distribution_of(ep)[0] in wanted]


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with score's hook specifications and no plugins."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


REGISTRATION_HOOKS = ("register_encoders", "register_decoders", "register_bridges", "register_writers")


def _tier(origin: Origin) -> int:
    if origin.plugin == BUILTIN_PLUGIN:
        return 0
    return 1 if origin.distribution in PROJECT_DISTRIBUTIONS else 2


def each_plugin(manager: pluggy.PluginManager, hook_name: str) -> list[tuple[Any, Any]]:
    """For each plugin implementing ``hook_name``, in pluggy's calling order: its hook implementation and a
    hook caller that calls that plugin alone (so ``specname``, ``tryfirst`` and ``trylast`` hold)."""
    implementations = list(reversed(getattr(manager.hook, hook_name).get_hookimpls()))
    everyone = [implementation.plugin for implementation in implementations]
    # pluggy keeps the plugins a subset leaves out in a set: with an unhashable plugin object among them, each
    # implementation is called alone instead, with the arguments it names, as pluggy's caller would
    subsets = all(isinstance(plugin, Hashable) for plugin in everyone)
    callers: list[tuple[Any, Any]] = []
    for implementation in implementations:
        others = [plugin for plugin in everyone if plugin is not implementation.plugin]
        caller: Any = (
            manager.subset_hook_caller(hook_name, remove_plugins=others)
            if subsets else _SingleImplementation(implementation)
        )
        callers.append((implementation, caller))
    return callers


class _SingleImplementation:
    """One hook implementation called with the arguments it names, as pluggy would call it."""

    def __init__(self, implementation: Any) -> None:
        self.implementation = implementation

    def __call__(self, **kwargs: Any) -> Any:
        return self.implementation.function(*(kwargs[name] for name in self.implementation.argnames))


class Registry:
    """Everything the loaded plugins registered, plus the plugins that failed to load."""

    def __init__(
        self,
        manager: pluggy.PluginManager,
        failures: Iterable[PluginFailure] = (),
        origins: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.manager = manager
        self.failures = list(failures)
        self._origins = origins or {}
        self.encoders: Catalogue[EncoderRegistration] = Catalogue("encoder", EncoderRegistration)
        self.decoders: Catalogue[DecoderRegistration] = Catalogue("decoder", DecoderRegistration)
        self.bridges: Catalogue[BridgeRegistration] = Catalogue("bridge", BridgeRegistration)
        self.writers: Catalogue[WriterRegistration] = Catalogue(
            "writer", WriterRegistration, unique=lambda writer: [f"suffix '{writer.suffix}'"]
        )
        self.plugins: list[PluginInfo] = []
        self._collect()

    def origin(self, plugin_name: str) -> Origin:
        distribution, version = self._origins.get(plugin_name, (plugin_name, "unknown"))
        return Origin(plugin_name, distribution, version)

    def fail(self, plugin_name: str, reason: str) -> None:
        """Record ``plugin_name`` as failed and take it out of the plugin manager."""
        self.failures.append(PluginFailure(plugin_name, self.origin(plugin_name).distribution, reason))
        plugin = self.manager.get_plugin(plugin_name)
        if plugin is not None:
            self.manager.unregister(plugin, name=plugin_name)

    def _catalogues(self) -> dict[str, tuple[str, Catalogue[Any]]]:
        return {
            "register_encoders": ("encoders", self.encoders),
            "register_decoders": ("decoders", self.decoders),
            "register_bridges": ("bridges", self.bridges),
            "register_writers": ("writers", self.writers),
        }

    def _collect(self) -> None:
        catalogues = self._catalogues()
        installed = [name for name, _ in self.manager.list_name_plugin()]
        offered: dict[str, list[tuple[str, Any]]] = {name: [] for name in installed}
        precedence: dict[str, int] = {}
        broken: dict[str, str] = {}
        for hook_name in REGISTRATION_HOOKS:
            for implementation, caller in each_plugin(self.manager, hook_name):
                plugin_name = implementation.plugin_name
                precedence.setdefault(plugin_name, 0 if implementation.tryfirst else 2 if implementation.trylast else 1)
                received: list[Any] = []
                try:
                    caller(register=received.append)
                except (Exception, SystemExit, KeyboardInterrupt) as error:  # a plugin's bug is its own
                    broken.setdefault(plugin_name, f"{hook_name} raised {error!r}")
                    continue
                offered[plugin_name] += [(hook_name, registration) for registration in received]
        ranked = sorted(
            installed,
            key=lambda name: (_tier(self.origin(name)), precedence.get(name, 1), installed.index(name)),
        )
        for plugin_name in ranked:
            if plugin_name in broken:
                self.fail(plugin_name, broken[plugin_name])
                continue
            reason = self._conflict(offered[plugin_name])
            if reason is not None:
                self.fail(plugin_name, reason)
                continue
            registered: dict[str, list[str]] = {}
            for hook_name, registration in offered[plugin_name]:
                kind, catalogue = catalogues[hook_name]
                catalogue.add(registration, self.origin(plugin_name))
                registered.setdefault(kind, []).append(registration.name)
            origin = self.origin(plugin_name)
            self.plugins.append(PluginInfo(plugin_name, origin.distribution, origin.version, registered))
        self.plugins.sort(key=lambda info: installed.index(info.name))

    def _conflict(self, offered: list[tuple[str, Any]]) -> str | None:
        catalogues = self._catalogues()
        taken: dict[str, set[str]] = {}
        for hook_name, registration in offered:
            _, catalogue = catalogues[hook_name]
            keys = taken.setdefault(hook_name, set())
            reason = catalogue.conflict(registration, keys)
            if reason is not None:
                return reason
            keys.update(f"name {key}" for key in (registration.name, *registration.aliases))
        return None

    def add_commands(self, app: Any, warn: Callable[[str], None] | None = None) -> None:
        """Let every plugin add its sub-commands to the CLI application, each on its own.

        A plugin whose hook raises, or that takes a command name already in use, is recorded as failed (and
        ``warn`` told); the commands of the other plugins are unaffected.
        """
        for implementation, caller in each_plugin(self.manager, "register_commands"):
            plugin_name = implementation.plugin_name
            counts = (len(app.registered_commands), len(app.registered_groups))
            before = _command_names(app)
            try:
                caller(app=app)
            except (Exception, SystemExit, KeyboardInterrupt) as error:
                reason = f"register_commands raised {error!r}"
            else:
                added = _command_names(app, since=counts)
                clash = sorted(set(before) & set(added)) or sorted({n for n in added if added.count(n) > 1})
                if not clash:
                    continue
                reason = f"register_commands added command '{clash[0]}', which already exists"
            del app.registered_commands[counts[0]:]
            del app.registered_groups[counts[1]:]
            self.fail(plugin_name, reason)
            self.plugins = [info for info in self.plugins if info.name != plugin_name]
            if warn is not None:
                warn(f"plugin '{plugin_name}' of {self.origin(plugin_name).distribution} failed: {reason}")


def _command_names(app: Any, since: tuple[int, int] = (0, 0)) -> list[str]:
    """Names of an application's top-level commands and groups (those added after ``since``), as the CLI shows
    them."""
    names = [info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands[since[0]:]]
    names += [group.name or group.typer_instance.info.name or "" for group in app.registered_groups[since[1]:]]
    return names


def _load_entry_point(entry_point: metadata.EntryPoint) -> object:
    try:
        return entry_point.load()
    except (Exception, SystemExit, KeyboardInterrupt) as error:
        raise _ImportFailure(f"{type(error).__name__} at import: {error}") from error


class _ImportFailure(Exception):
    pass


def load_registry(pinned: str | None = None, extra_plugins: Iterable[tuple[str, ModuleType | object]] = ()) -> Registry:
    """Discover installed plugins through entry points and collect their registrations."""
    from score_core import builtin

    manager = new_plugin_manager()
    manager.register(builtin, name=BUILTIN_PLUGIN)
    origins = {BUILTIN_PLUGIN: (BUILTIN_PLUGIN, metadata.version("score-core"))}
    failures: list[PluginFailure] = []
    for entry_point in selected_entry_points(pinned):
        dist_name, version = _distribution_of(entry_point)
        if entry_point.name in origins:
            holder, holder_version = origins[entry_point.name]
            failures.append(PluginFailure(
                entry_point.name, dist_name,
                f"entry point '{entry_point.name}' is also provided by {holder} {holder_version}, which keeps it",
            ))
            continue
        try:
            plugin = _load_entry_point(entry_point)
            manager.register(plugin, name=entry_point.name)
        except (_ImportFailure, ValueError, pluggy.PluginValidationError) as error:
            failures.append(PluginFailure(entry_point.name, dist_name, str(error)))
            continue
        origins[entry_point.name] = (dist_name, version)
    for name, plugin in extra_plugins:
        manager.register(plugin, name=name)
    return Registry(manager, failures, origins)


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry of installed plugins, loaded once per process."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default


def list_encoders() -> list[EncoderRegistration]:
    return default_registry().encoders.all()


def list_decoders() -> list[DecoderRegistration]:
    return default_registry().decoders.all()


def get_encoder(name: str, weights: str | None = None, **options: Any) -> Any:
    """Build the encoder registered as ``name`` (or an alias) with its options (``weights`` None: the default)."""
    registration = default_registry().encoders.get(name)
    given = {**options, **({"weights": weights} if weights is not None else {})}
    options_model = parse_options(f"encoder '{registration.name}'", registration.options, given)
    return build_stage(registration.factory, options_model)


def get_decoder(name: str, weights: str | None = None, **options: Any) -> Any:
    """Build the decoder registered as ``name`` (or an alias) with its options (``weights`` None: the default)."""
    registration = default_registry().decoders.get(name)
    given = {**options, **({"weights": weights} if weights is not None else {})}
    options_model = parse_options(f"decoder '{registration.name}'", registration.options, given)
    return build_stage(registration.factory, options_model)
