"""A throwaway PostgreSQL for benchmarks and the cluster demo: initdb in a directory, Unix socket only, the
`credsd` role with a password (scram-sha-256) owning database `credsd`. As root it runs as the `postgres` user
(PostgreSQL refuses root), as tests/Support/PostgresServer.swift does."""
import os, pwd, secrets, subprocess


def bin_dir():
    versions = sorted(int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
    return f"/usr/lib/postgresql/{versions[-1]}/bin"


class PostgresServer:
    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        self.data = os.path.join(self.directory, "data")
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.superuser = "postgres" if self.run_as else pwd.getpwuid(os.geteuid()).pw_name
        self.password_file = os.path.join(self.directory, "pg-password")
        self.url = f"postgresql://credsd@/credsd?host={self.directory}"

    def _run(self, *args, input=None):
        cmd = list(args)
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--"] + cmd
        return subprocess.run(cmd, input=input, capture_output=True, text=True, check=True).stdout

    def psql(self, sql, database="credsd"):
        return self._run(f"{bin_dir()}/psql", "-h", self.directory, "-U", self.superuser, "-d", database, "-X", "-q",
                         "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-", input=sql).strip()

    def create(self):
        os.makedirs(self.directory, exist_ok=True)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self._run(f"{bin_dir()}/initdb", "-D", self.data, "-U", self.superuser, "--no-sync", "-E", "UTF8")
        self._write_owned(os.path.join(self.data, "pg_hba.conf"),
                          f"local all {self.superuser} peer\nlocal all all scram-sha-256\n")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\nlisten_addresses = ''\nunix_socket_directories = '{self.directory}'\n"
                    "max_connections = 60\nshared_buffers = 32MB\n")
        self.start()
        password = secrets.token_hex(16)
        self.psql(f"CREATE ROLE credsd LOGIN PASSWORD '{password}';\nCREATE DATABASE credsd OWNER credsd;\n",
                  database="postgres")
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")

    def _write_owned(self, path, text):
        with open(path, "w") as f:
            f.write(text)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(path, user.pw_uid, user.pw_gid)

    def start(self):
        self._run(f"{bin_dir()}/pg_ctl", "-D", self.data, "-l", os.path.join(self.directory, "server.log"), "-w",
                  "-t", "60", "start")

    def stop(self, mode="fast"):
        self._run(f"{bin_dir()}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def cluster_section(self, host_id, poll_seconds=1):
        return (f'[cluster]\npostgres = "{self.url}"\npasswordFile = "{self.password_file}"\n'
                f'hostId = "{host_id}"\npollSeconds = {poll_seconds}\n')
