"""A real OpenSSH server on 127.0.0.1 for tests and benchmarks: fresh keys, a free port.

    with LoopbackSshd(tmp_path) as sshd:
        sshd.url, sshd.known_hosts, sshd.identity

Needs Debian's openssh-server (/usr/sbin/sshd); scripts/setup.sh installs it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def sshd_available() -> str | None:
    """None, or why a loopback sshd cannot be started here."""
    if not Path(SSHD).is_file():
        return f"{SSHD} is missing: apt-get install -y openssh-server"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is missing: apt-get install -y openssh-client"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackSshd:
    def __init__(self, folder: Path):
        self.dir = Path(folder) / "sshd"
        self.port = free_port()
        self.user = getpass.getuser()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def _keygen(self, path: Path) -> None:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)

    def __enter__(self) -> LoopbackSshd:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.host_key, self.identity = self.dir / "host_key", self.dir / "user_key"
        self._keygen(self.host_key)
        self._keygen(self.identity)
        auth = self.dir / "authorized_keys"
        shutil.copyfile(self.identity.with_suffix(".pub"), auth)
        os.chmod(auth, 0o600)
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation dir sshd insists on
        config = self.dir / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {auth}\nPidFile {self.dir / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nSubsystem sftp internal-sftp\n"
        )
        self.log = self.dir / "sshd.log"
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config), "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )
        self._wait_listening()
        pub = self.host_key.with_suffix(".pub").read_text().split()[:2]
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(pub)}\n")
        return self

    def _wait_listening(self, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-800:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening in time")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
