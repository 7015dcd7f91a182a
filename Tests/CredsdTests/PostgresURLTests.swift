import CredsCore
import Testing

@Suite("[cluster] postgres URLs")
struct PostgresURLTests {
    @Test("a TCP URL gives host, port, user, database and sslmode require by default")
    func tcp() throws {
        let url = try PostgresURL.parse("postgresql://credsd@db.internal:5433/creds")
        #expect(url.endpoint == .tcp(host: "db.internal", port: 5433))
        #expect(url.user == "credsd")
        #expect(url.database == "creds")
        #expect(url.sslMode == .require)
        #expect(url.description == "postgresql://credsd@db.internal:5433/creds?sslmode=require")
    }

    @Test("postgres:// works too, the port defaults to 5432 and the database to the user")
    func defaults() throws {
        let url = try PostgresURL.parse("postgres://credsd@db")
        #expect(url.endpoint == .tcp(host: "db", port: 5432))
        #expect(url.database == "credsd")
    }

    @Test("?host=/dir names a Unix-socket directory; sslmode defaults to disable there")
    func unixSocket() throws {
        let url = try PostgresURL.parse("postgresql://credsd@/credsd?host=/run/postgresql")
        #expect(url.endpoint == .unixSocket(directory: "/run/postgresql", port: 5432))
        #expect(url.socketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(url.sslMode == .disable)
        #expect(url.description == "postgresql://credsd@/credsd?host=/run/postgresql")
        let encoded = try PostgresURL.parse("postgresql://credsd@%2Fvar%2Frun%2Fpg:6000/db")
        #expect(encoded.socketPath == "/var/run/pg/.s.PGSQL.6000")
    }

    @Test("an IPv6 address in brackets, with and without a port")
    func ipv6() throws {
        #expect(try PostgresURL.parse("postgresql://u@[::1]:6543/d").endpoint == .tcp(host: "::1", port: 6543))
        let documentation = try PostgresURL.parse("postgresql://u@[2001:db8::5]/d")
        #expect(documentation.endpoint == .tcp(host: "2001:db8::5", port: 5432))
        #expect(try PostgresURL.parse("postgresql://u@[::1]:6543/d").description.contains("@[::1]:6543/"))
    }

    @Test("user and database are percent-decoded, and the query sets sslmode")
    func decoding() throws {
        let url = try PostgresURL.parse("postgresql://cred%40sd@db/my%20db?sslmode=verify-full")
        #expect(url.user == "cred@sd")
        #expect(url.database == "my db")
        #expect(url.sslMode == .verifyFull)
        #expect(try PostgresURL.parse(url.description) == url)
        #expect(try PostgresURL.parse("postgresql://u@db/d?sslmode=disable").sslMode == .disable)
        #expect(try PostgresURL.parse("postgresql://db/d?user=u&port=7000").endpoint == .tcp(host: "db", port: 7000))
    }

    @Test("a password in the URL is refused, pointing to passwordFile, without repeating it")
    func password() {
        let urls = [
            "postgresql://credsd:hunter2@db/credsd", "postgresql://credsd@db/credsd?password=hunter2",
            "postgresql://credsd:@db/credsd",
        ]
        for text in urls {
            #expect {
                try PostgresURL.parse(text)
            } throws: { error in
                let message = "\(error)"
                return message.contains("passwordFile") && !message.contains("hunter2")
            }
        }
    }

    @Test(
        "hostile or malformed URLs are refused with a reason, never a trap",
        arguments: [
            "", "http://u@db/d", "postgresql://", "postgresql://db/d", "postgresql://u@/d",
            "postgresql://u@db:99999999999999999999999999/d", "postgresql://u@db:0/d", "postgresql://u@db:65536/d",
            "postgresql://u@db:-1/d", "postgresql://u@db:+5/d", "postgresql://u@db:/d", "postgresql://u@db:5432x/d",
            "postgresql://u@[::1/d", "postgresql://u@[]/d", "postgresql://u@[::1]x/d", "postgresql://u@[zz]/d",
            "postgresql://u@a,b/d", "postgresql://u@db/d/e", "postgresql://u@db/d%", "postgresql://u@db/d%zz",
            "postgresql://u@db/d%00", "postgresql://u@db/d%ff", "postgresql://u@db/d?sslmode=prefer",
            "postgresql://u@db/d?sslmode=allow", "postgresql://u@db/d?sslmode", "postgresql://u@db/d?x=1",
            "postgresql://u@db/d?host=/tmp", "postgresql://u@/d?host=/tmp&sslmode=require",
            "postgresql://u@db/d?sslmode=disable&sslmode=require", "postgresql://u@db/d#frag",
            "postgresql://u@d%20b/d", "postgresql://u@/d?host=run/pg",
            "postgresql://u@run%2Fpg/d", "postgresql://u@db/" + String(repeating: "x", count: 64),
            "postgresql://u@db:5432:5432/d", "postgresql://u@db/d?port=1&port=2", "postgresql://u@db:5432/d?port=1",
            "postgresql://u@db/" + String(repeating: "%", count: 5000),
        ])
    func hostile(_ text: String) {
        #expect(throws: PostgresURLError.self) { try PostgresURL.parse(text) }
    }
}
