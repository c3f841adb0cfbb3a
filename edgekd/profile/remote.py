"""Profile an artifact on another machine over SSH (paramiko).

The artifact's files, the edgekd sources (pure Python, ~100 KB) and the spec go to a fresh
temporary folder on the host; `python3 -m edgekd.profile.worker` runs there with the host's
own runtime; the JSON comes back and the folder is removed. Host keys are checked against
known_hosts and an unknown host is refused, as OpenSSH does by default.
"""

from __future__ import annotations

import io
import math
import shlex
import socket
import tarfile
from pathlib import Path

from edgekd.config.schema import SshConfig
from edgekd.fsutil import temp_dir
from edgekd.profile.hosts import Host, RemoteError, parse_host  # RemoteError: also from here
from edgekd.profile.protocol import DataRef, ProfileSpec, read_result

PACKAGE = Path(__file__).resolve().parent.parent


def connect(host: Host, opts: SshConfig):
    import logging

    import paramiko

    # paramiko logs failed handshakes with tracebacks; we raise a clear RemoteError instead
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    client = paramiko.SSHClient()
    known = opts.known_hosts or Path("~/.ssh/known_hosts").expanduser()
    if known.is_file():
        client.load_host_keys(str(known))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        # Our own TCP connection: paramiko's connect timeout races its banner timeout.
        sock = socket.create_connection((host.hostname, host.port), opts.connect_timeout_s)
        client.connect(
            host.hostname,
            port=host.port,
            username=host.user,
            key_filename=str(opts.identity) if opts.identity else None,
            sock=sock,
            banner_timeout=opts.connect_timeout_s,
            auth_timeout=opts.connect_timeout_s,
        )
    except Exception as exc:
        client.close()
        raise connect_error(exc, host, known) from None
    return client


def connect_error(exc: Exception, host: Host, known: Path) -> RemoteError:
    import paramiko

    if isinstance(exc, paramiko.BadHostKeyException):
        return RemoteError(
            f"{host}: the host key does not match the one in {known}. Someone may be "
            "intercepting the connection, or the device was reinstalled; check, then remove the "
            f"old key with ssh-keygen -R '[{host.hostname}]:{host.port}'."
        )
    if isinstance(exc, (paramiko.ssh_exception.NoValidConnectionsError, ConnectionError)):
        return RemoteError(
            f"{host}: unreachable; nothing accepts SSH connections on port {host.port}. Check "
            "that the device is on, the address and port, and that sshd runs there."
        )
    if isinstance(exc, socket.gaierror):
        return RemoteError(f"{host}: unknown host name '{host.hostname}'. Check the address.")
    auth_failed = isinstance(exc, paramiko.SSHException) and "authentication" in str(exc).lower()
    if isinstance(exc, paramiko.AuthenticationException) or auth_failed:
        return RemoteError(
            f"{host}: authentication refused ({exc}). Check the user name, and that your key "
            "is in the host's authorized_keys (or pass --identity KEY)."
        )
    timed_out = isinstance(exc, paramiko.SSHException) and "banner" in str(exc)
    if isinstance(exc, TimeoutError) or timed_out:
        return RemoteError(f"{host}: timed out connecting. Check that it is on and reachable.")
    if isinstance(exc, paramiko.SSHException) and "known_hosts" in str(exc):
        return RemoteError(
            f"{host}: host key unknown; it is not in {known}. Verify the host, then add its key "
            f"with ssh-keyscan -p {host.port} {host.hostname} >> {known} "
            "(or pass --known-hosts FILE)."
        )
    return RemoteError(f"{host}: cannot connect ({type(exc).__name__}: {exc}). Check the address.")


def package_tar() -> bytes:
    """The edgekd sources as a tar.gz, so the host needs no edgekd install."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(PACKAGE.rglob("*.py")):
            if "__pycache__" not in f.parts:
                tar.add(f, arcname=str(Path("edgekd") / f.relative_to(PACKAGE)))
    return buf.getvalue()


def test_split_npz(data: DataRef) -> bytes:
    """Only the arrays the worker reads travel to the host, not the training data."""
    import numpy as np

    buf = io.BytesIO()
    with np.load(data.npz, allow_pickle=False) as z:
        np.savez(buf, **{data.x: z[data.x], data.y: z[data.y]})
    return buf.getvalue()


def exec_checked(client, command: str, timeout: float) -> tuple[int, str]:
    try:
        _, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        return stdout.channel.recv_exit_status(), out + err
    except TimeoutError:
        raise RemoteError(
            f"a command on the host timed out after {timeout:g}s: {command[:80]}. Raise "
            "profile.timeout_s or use tier: quick."
        ) from None


def run_remote(spec: ProfileSpec, url: str, opts: SshConfig) -> dict:
    host = parse_host(url)
    client = connect(host, opts)
    timeout = spec.profile.timeout_s
    try:
        exec_checked(client, stale_cleanup(timeout), 60)
        code, out = exec_checked(client, "mktemp -d /tmp/edgekd-profile-XXXXXX", 30)
        remote = out.strip().splitlines()[-1] if code == 0 and out.strip() else ""
        if not remote.startswith("/tmp/edgekd-profile-"):
            raise RemoteError(f"{host}: cannot create a temporary folder there: {out[:200]}")
        try:
            return _profile_in(client, spec, remote, opts, timeout, host)
        finally:
            exec_checked(client, f"rm -rf {shlex.quote(remote)}", 60)
    finally:
        client.close()


def stale_cleanup(timeout_s: float) -> str:
    """Remove this user's edgekd folders on the host that no run can still be using (older
    than twice the worker timeout, and at least an hour): what a killed run left there."""
    minutes = math.ceil(max(2 * timeout_s, 3600) / 60)
    return (
        "find /tmp -maxdepth 1 -type d -name 'edgekd-profile-*' -user \"$(id -u)\" "
        f"-mmin +{minutes} -exec rm -rf {{}} + 2>/dev/null; true"
    )


def _profile_in(client, spec: ProfileSpec, remote: str, opts, timeout: float, host: Host) -> dict:
    sftp = client.open_sftp()
    local_dir = Path(spec.artifact_dir)
    files = spec.files or [p.name for p in local_dir.iterdir() if p.is_file()]
    sftp.mkdir(f"{remote}/artifact")
    for name in files:
        sftp.put(str(local_dir / name), f"{remote}/artifact/{name}")
    update = {"artifact_dir": f"{remote}/artifact", "out": f"{remote}/result.json"}
    if spec.data is not None:
        sftp.putfo(io.BytesIO(test_split_npz(spec.data)), f"{remote}/data.npz")
        update["data"] = spec.data.model_copy(update={"npz": f"{remote}/data.npz"})
    if spec.plugin is not None:  # a backend from outside edgekd travels with the spec
        sftp.put(spec.plugin.file, f"{remote}/plugin_backend.py")
        update["plugin"] = spec.plugin.model_copy(update={"file": f"{remote}/plugin_backend.py"})
    remote_spec = spec.model_copy(update=update)
    sftp.putfo(io.BytesIO(package_tar()), f"{remote}/edgekd.tar.gz")
    sftp.putfo(io.BytesIO(remote_spec.to_json().encode()), f"{remote}/spec.json")
    q = shlex.quote(remote)
    code, out = exec_checked(
        client,
        f"cd {q} && tar -xzf edgekd.tar.gz && PYTHONPATH={q} "
        f"{opts.python} -m edgekd.profile.worker spec.json",
        timeout,
    )
    with temp_dir("remote") as tmp:
        local_out = tmp / "result.json"
        try:
            sftp.get(f"{remote}/result.json", str(local_out))
        except OSError:
            pass  # no result: read_result reports the worker's exit code and output
        finally:
            sftp.close()
        return read_result(local_out, code, out, f"on {host}")
