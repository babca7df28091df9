"""Start a command as a systemd unit would, as far as a machine without a running systemd allows.

`Service.from_unit()` reads a unit file and works out what its settings do to the process it
starts: the command line, the environment (Environment=, HOME and USER of the unit's user,
STATE_DIRECTORY and friends, with every path moved under a scratch root), the umask and the
directories systemd would create. `Service.popen()` then starts the command through this file
run as a script, which confines itself before it executes the command:

- NoNewPrivileges= with prctl(PR_SET_NO_NEW_PRIVS);
- SystemCallFilter= (groups expanded by `systemd-analyze syscall-filter`, @default always in,
  SystemCallErrorNumber= for the rest), MemoryDenyWriteExecute= and RestrictAddressFamilies=
  as the seccomp filters systemd 252 loads for them;
- ProtectSystem=strict, ProtectHome= and PrivateTmp= as a Landlock ruleset: everything
  read-only except the unit's state and cache directories, a private temporary folder and
  /dev; /home and /root not even readable. TCP connections go only to the ports given.

Not reproduced: User= (the command runs as whoever runs the tests), mount namespaces,
capabilities and the other Protect*= settings; `systemd-analyze verify` and `security` check
those settings on paper.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- reading a unit ---------------------------------------------------------------------------

def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Return each section's (key, value) pairs in order; a key may repeat, as in systemd."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None and "=" in line:
            key, value = line.split("=", 1)
            current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict, section: str, key: str) -> list[str]:
    """Every value `key` has in `section`; an empty assignment resets the list, as in systemd."""
    found: list[str] = []
    for name, value in unit.get(section, []):
        if name == key:
            found = [] if value == "" else found + [value]
    return found


def value(unit: dict, section: str, key: str, default: str | None = None) -> str | None:
    found = values(unit, section, key)
    return found[-1] if found else default


def boolean(unit: dict, section: str, key: str) -> bool:
    return (value(unit, section, key) or "no").lower() in ("1", "yes", "true", "on")


def syscall_groups() -> dict[str, list[str]]:
    """Read systemd's syscall groups (`@system-service` and the rest) from systemd-analyze."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"],
                         capture_output=True, text=True, check=True).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif not line.strip() or line.startswith("#"):
            current = None
        elif current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for name in names:
        out |= expand(groups[name], groups) if name.startswith("@") else {name}
    return out


def allowed_syscalls(unit: dict, groups: dict[str, list[str]]) -> list[str] | None:
    """The allow list SystemCallFilter= builds, or None when the unit sets no filter."""
    lines = values(unit, "Service", "SystemCallFilter")
    if not lines:
        return None
    if lines[0].startswith("~"):
        raise ValueError("only an allow list followed by ~deny lines is reproduced")
    allowed = expand(["@default"], groups)
    for line in lines:
        deny = line.startswith("~")
        names = expand(line.lstrip("~").split(), groups)
        allowed = allowed - names if deny else allowed | names
    return sorted(allowed)


# --- a unit's process -------------------------------------------------------------------------

@dataclass
class Service:
    """How systemd would start a unit's ExecStart=, with every path moved under `root`."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    umask: int
    writable: list[str]
    spec: dict = field(default_factory=dict)

    @classmethod
    def from_unit(cls, path: Path, *, root: Path, install: Path, home: str | None = None,
                  exec_key: str = "ExecStart") -> Service:
        """Read the unit at `path`; `/opt/herald` becomes `install`, other paths move to `root`."""
        unit = parse_unit(path)

        def move(text: str) -> str:
            text = re.sub(r"(?<![\w/])/opt/herald(?=/|\b)", str(install), text)
            return re.sub(r"(?<![\w/])/(etc|var|run|srv)/", lambda m: f"{root}/{m.group(1)}/", text)

        env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
        user = value(unit, "Service", "User")
        if user:
            env.update(USER=user, LOGNAME=user, SHELL="/usr/sbin/nologin")
        if home:
            env["HOME"] = move(home)
        writable = []
        for key, base in (("StateDirectory", "/var/lib"), ("CacheDirectory", "/var/cache"),
                          ("ConfigurationDirectory", "/etc"), ("RuntimeDirectory", "/run")):
            names = " ".join(values(unit, "Service", key)).split()
            mode = int(value(unit, "Service", key + "Mode", "0755"), 8)
            if not names:
                continue
            dirs = [Path(move(f"{base}/{name}")) for name in names]
            for folder in dirs:
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(mode)
            env[key.replace("Directory", "").upper() + "_DIRECTORY"] = ":".join(map(str, dirs))
            if key != "ConfigurationDirectory":   # read-only under ProtectSystem=strict
                writable += [str(d) for d in dirs]
        for line in values(unit, "Service", "Environment"):
            for assignment in shlex.split(line):
                name, _, text = assignment.partition("=")
                env[name] = move(text)
        if boolean(unit, "Service", "PrivateTmp"):
            private = root / "tmp"
            private.mkdir(parents=True, exist_ok=True)
            env["TMPDIR"] = str(private)
            writable.append(str(private))
        command = value(unit, "Service", exec_key)
        if command is None:
            raise ValueError(f"{path} has no {exec_key}=")
        argv = [move(word) for word in shlex.split(command.lstrip("-@+!:"))]
        if not argv[0].startswith("/"):
            argv[0] = shutil.which(argv[0], path=SYSTEM_PATH) or argv[0]
        cwd = move(value(unit, "Service", "WorkingDirectory", str(root)))
        umask = int(value(unit, "Service", "UMask", "0022"), 8)
        service = cls(argv, env, cwd, umask, writable)
        service.spec = _confinement(unit, writable)
        return service

    def popen(self, *extra: str, tcp_ports: tuple[int, ...] = (), env: dict | None = None,
              **kwargs) -> subprocess.Popen:
        """Start the command (plus `extra` arguments) confined as the unit would confine it."""
        spec = {**self.spec, "argv": self.argv + list(extra), "env": {**self.env, **(env or {})},
                "cwd": self.cwd, "umask": self.umask, "tcp_ports": list(tcp_ports)}
        return subprocess.Popen([sys.executable, __file__, json.dumps(spec)], **kwargs)

    def run(self, *extra: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
        process = self.popen(*extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             **kwargs)
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _confinement(unit: dict, writable: list[str]) -> dict:
    protect_system = value(unit, "Service", "ProtectSystem", "no")
    if protect_system not in ("no", "strict"):
        raise ValueError("only ProtectSystem=strict is reproduced")
    families = None
    listed = " ".join(values(unit, "Service", "RestrictAddressFamilies")).split()
    if listed:
        if listed[0].startswith("~"):
            raise ValueError("only an allow list of address families is reproduced")
        families = sorted(int(getattr(socket, name)) for name in listed)
    error = value(unit, "Service", "SystemCallErrorNumber")
    return {
        "no_new_privileges": boolean(unit, "Service", "NoNewPrivileges"),
        "syscalls": allowed_syscalls(unit, syscall_groups()),
        "syscall_errno": getattr(errno, error) if error else None,
        "mdwe": boolean(unit, "Service", "MemoryDenyWriteExecute"),
        "families": families,
        "read_only": protect_system == "strict",
        "hide_home": (value(unit, "Service", "ProtectHome", "no") in ("yes", "true")),
        "writable": writable + ["/dev"],
    }


# --- confining this process, then executing the command ----------------------------------------

PR_SET_NO_NEW_PRIVS = 38
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_CMP_EQ, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ = 4, 6, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
LANDLOCK_READ = (1 << 0) | (1 << 2) | (1 << 3)        # execute, read file, read directory
LANDLOCK_FS_BITS = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}
LANDLOCK_CONNECT_TCP, LANDLOCK_BIND_TCP = 1 << 1, 1 << 0


def scmp_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class Seccomp:
    """One seccomp filter, built with libseccomp and loaded on top of the ones before it."""

    lib = None

    def __init__(self, default_action: int):
        self.ctx = self.library().seccomp_init(default_action)

    @classmethod
    def library(cls):
        if cls.lib is None:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
            lib.seccomp_init.restype = ctypes.c_void_p
            lib.seccomp_init.argtypes = [ctypes.c_uint32]
            lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                                   ctypes.c_uint, ctypes.POINTER(ArgCmp)]
            lib.seccomp_load.argtypes = [ctypes.c_void_p]
            lib.seccomp_release.argtypes = [ctypes.c_void_p]
            lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
            cls.lib = lib
        return cls.lib

    def rule(self, action: int, name: str, *conditions: tuple[int, int, int, int]) -> None:
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number == -1:       # not a system call libseccomp knows on any architecture
            return
        array = (ArgCmp * max(len(conditions), 1))(*[ArgCmp(*c) for c in conditions])
        result = self.lib.seccomp_rule_add_array(self.ctx, action, number, len(conditions), array)
        if result < 0 and number >= 0:
            raise OSError(-result, f"seccomp rule for {name}: {os.strerror(-result)}")

    def load(self) -> None:
        result = self.lib.seccomp_load(self.ctx)
        if result < 0:
            raise OSError(-result, f"seccomp_load: {os.strerror(-result)}")
        self.lib.seccomp_release(self.ctx)


def _landlock(spec: dict) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(444, None, 0, 1)          # landlock_create_ruleset(..., VERSION)
    if abi < 1:
        raise OSError(ctypes.get_errno(), "Landlock is not available")
    fs_all = (1 << LANDLOCK_FS_BITS.get(abi, 16)) - 1
    net = LANDLOCK_CONNECT_TCP | LANDLOCK_BIND_TCP if abi >= 4 else 0
    attr = (ctypes.c_uint64 * 2)(fs_all, net)
    ruleset = libc.syscall(444, ctypes.byref(attr), 16 if net else 8, 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]

    def allow(path: str, access: int) -> None:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            rule = PathBeneath(access & fs_all, fd)
            if libc.syscall(445, ruleset, 1, ctypes.byref(rule), 0) < 0:
                raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
        finally:
            os.close(fd)

    hidden = {"home", "root"} if spec["hide_home"] else set()
    for entry in sorted(os.listdir("/")):
        if entry not in hidden and os.path.isdir("/" + entry):
            allow("/" + entry, LANDLOCK_READ)
    for path in spec["writable"]:
        allow(path, fs_all)
    for port in spec["tcp_ports"] if net else ():
        rule = (ctypes.c_uint64 * 2)(LANDLOCK_CONNECT_TCP, port)
        if libc.syscall(445, ruleset, 2, ctypes.byref(rule), 0) < 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule port {port}")
    if libc.syscall(446, ruleset, 0) < 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    os.close(ruleset)


def confine_and_exec(spec: dict) -> None:
    """Apply the unit's confinement to this process, then replace it with the command."""
    os.umask(spec["umask"])
    os.chdir(spec["cwd"])
    Seccomp.library()              # load it while its folder is still readable
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if spec["read_only"]:
        _landlock(spec)
    if spec["mdwe"]:
        mdwe = Seccomp(SCMP_ACT_ALLOW)
        denied = scmp_errno(errno.EPERM)
        both = PROT_WRITE | PROT_EXEC
        mdwe.rule(denied, "mmap", (2, SCMP_CMP_MASKED_EQ, both, both))
        mdwe.rule(denied, "mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        mdwe.rule(denied, "pkey_mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        mdwe.rule(denied, "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
        mdwe.load()
    if spec["families"] is not None:
        families = Seccomp(SCMP_ACT_ALLOW)
        refused = scmp_errno(errno.EAFNOSUPPORT)
        highest = max(spec["families"])
        for family in range(highest):
            if family not in spec["families"]:
                families.rule(refused, "socket", (0, SCMP_CMP_EQ, family, 0))
        families.rule(refused, "socket", (0, SCMP_CMP_GT, highest, 0))
        families.load()
    if spec["syscalls"] is not None:
        error = spec["syscall_errno"]
        syscalls = Seccomp(scmp_errno(error) if error else SCMP_ACT_KILL_PROCESS)
        for name in spec["syscalls"]:
            syscalls.rule(SCMP_ACT_ALLOW, name)
        syscalls.load()
    os.execve(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    confine_and_exec(json.loads(sys.argv[1]))
