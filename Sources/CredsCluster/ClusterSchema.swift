/// The cluster's schema in PostgreSQL, as numbered migrations (`credsd cluster init` applies the missing ones).
///
/// Every table is prefixed `credsd_` so the schema can share a database. No table holds a credential in clear:
/// sealed bytes are the XChaCha20-Poly1305 blobs credsd keeps in LMDB, grants and OAuth states are keyed by the
/// SHA-256 of their token, and no master key is ever sent. `proto/cluster.md` describes the tables.
public enum ClusterSchema {
    /// One migration: its version, a name, and its statements, run in order in one transaction.
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let statements: [String]
    }

    /// The version table, created (if missing) under the migration lock before any migration.
    static let versionTable = """
        CREATE TABLE IF NOT EXISTS credsd_schema (
            version     integer PRIMARY KEY CHECK (version > 0),
            name        text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now(),
            applied_by  text NOT NULL  -- the hostId that ran credsd cluster init
        )
        """

    /// The key of the transaction-scoped advisory lock every `cluster init` takes first (ASCII "credsdsc").
    static let migrationLockKey: Int64 = 0x6372_6564_7364_7363

    /// Every migration, oldest first; versions are 1, 2, 3, ... with no gap.
    public static let migrations: [Migration] = [
        initial, oneRecordsTable, webhookIds, auditChains, auditListing, budgetsAndUsage,
    ]

    /// The version this build creates.
    public static var currentVersion: Int { migrations.last?.version ?? 0 }

    static let initial = Migration(
        version: 1,
        name: "change feed, records, refresh leases",
        statements: [
            """
            -- The feed's head: one row, bumped as the LAST statement of every writing transaction. Its row lock is
            -- held to commit, so feed numbers follow commit order with no hole (a rollback undoes its bump).
            CREATE TABLE credsd_feed_head (
                id     integer PRIMARY KEY CHECK (id = 1),
                seq    bigint NOT NULL CHECK (seq >= 0),      -- the last change's number; 0: none yet
                epoch  uuid NOT NULL                          -- new after a restore: replicas resync on a change
            )
            """,
            "INSERT INTO credsd_feed_head (id, seq, epoch) VALUES (1, 0, gen_random_uuid())",
            """
            -- The change feed: seq = the head's value in the transaction that wrote the change (dense, commit
            -- ordered). A change names a record and its new version; replicas read the record's row for content.
            CREATE TABLE credsd_changes (
                seq           bigint PRIMARY KEY CHECK (seq > 0),
                entity        text NOT NULL
                                CHECK (entity IN ('connection', 'policy', 'member', 'grant', 'oauth_state')),
                workspace_id  text NOT NULL,
                entity_key    bytea NOT NULL,    -- the record's LMDB key (ids joined by NUL; token digests)
                version       bigint NOT NULL CHECK (version > 0),
                op            text NOT NULL CHECK (op IN ('put', 'delete')),
                host_id       text NOT NULL,     -- the host that took the write
                committed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
            "CREATE INDEX credsd_changes_committed_at ON credsd_changes (committed_at)",
            """
            -- Connections: metadata as credsd encodes its record, and the sealed payload as the same bytes as in
            -- LMDB. version goes +1 on every change (row lock: monotonic); deleted rows stay as tombstones.
            CREATE TABLE credsd_connections (
                connection_id  text PRIMARY KEY,
                workspace_id   text NOT NULL,
                provider       text NOT NULL,
                version        bigint NOT NULL CHECK (version > 0),
                deleted        boolean NOT NULL DEFAULT false,
                record         bytea NOT NULL,   -- credsd's connection record without the payload
                sealed         bytea,            -- XChaCha20-Poly1305 blob; NULL: no payload
                key_id         text,             -- the master key that sealed it (for keys.status/rotate)
                updated_at     timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX credsd_connections_owner ON credsd_connections (workspace_id, provider)",
            """
            -- Routing policies per workspace and provider.
            CREATE TABLE credsd_policies (
                workspace_id  text NOT NULL,
                provider      text NOT NULL,
                version       bigint NOT NULL CHECK (version > 0),
                deleted       boolean NOT NULL DEFAULT false,
                record        bytea NOT NULL,
                updated_at    timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (workspace_id, provider)
            )
            """,
            """
            -- Workspace members and their roles.
            CREATE TABLE credsd_members (
                workspace_id  text NOT NULL,
                principal_id  text NOT NULL,
                version       bigint NOT NULL CHECK (version > 0),
                deleted       boolean NOT NULL DEFAULT false,
                record        bytea NOT NULL,
                updated_at    timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (workspace_id, principal_id)
            )
            """,
            """
            -- Execution grants, keyed by the SHA-256 of the token (the token itself is never stored).
            CREATE TABLE credsd_grants (
                grant_digest  bytea PRIMARY KEY CHECK (octet_length(grant_digest) = 32),
                workspace_id  text NOT NULL,
                version       bigint NOT NULL CHECK (version > 0),
                deleted       boolean NOT NULL DEFAULT false,   -- revoked
                record        bytea NOT NULL,
                expires_at    timestamptz NOT NULL,
                updated_at    timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX credsd_grants_expires_at ON credsd_grants (expires_at)",
            """
            -- Pending OAuth authorizations, keyed by the SHA-256 of `state`; the PKCE verifier inside is sealed.
            CREATE TABLE credsd_oauth_states (
                state_digest  bytea PRIMARY KEY CHECK (octet_length(state_digest) = 32),
                workspace_id  text NOT NULL,
                version       bigint NOT NULL CHECK (version > 0),
                deleted       boolean NOT NULL DEFAULT false,   -- used or cancelled
                record        bytea NOT NULL,
                expires_at    timestamptz NOT NULL,
                updated_at    timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX credsd_oauth_states_expires_at ON credsd_oauth_states (expires_at)",
            """
            -- One token refresh per connection across hosts: taken with the database's clock when free or expired
            -- and the connection still has the version the host saw; fencing goes +1 on every take, and a
            -- write-back names the fencing number it holds (0 rows updated: the lease was lost, discard).
            CREATE TABLE credsd_refresh_leases (
                connection_id  text PRIMARY KEY REFERENCES credsd_connections (connection_id) ON DELETE CASCADE,
                holder         text,                                   -- hostId; NULL: free
                lease_until    timestamptz NOT NULL DEFAULT '-infinity',
                fencing        bigint NOT NULL DEFAULT 0 CHECK (fencing >= 0),
                seen_version   bigint NOT NULL DEFAULT 0               -- the connection version at the take
            )
            """,
            "COMMENT ON TABLE credsd_feed_head IS 'credsd: the change feed head, bumped last in every write'",
            "COMMENT ON TABLE credsd_changes IS 'credsd: dense, commit-ordered change feed (seq has no hole)'",
            "COMMENT ON TABLE credsd_connections IS 'credsd: connections, payloads sealed as in LMDB'",
            "COMMENT ON TABLE credsd_refresh_leases IS 'credsd: cross-host OAuth refresh leases with fencing'",
        ]
    )

    /// Version 2: one table for every replicated record, keyed as LMDB keys them, so that writing, reading a feed
    /// page with its records, and a full resync are each one statement whatever the entity. Version 1's per-entity
    /// tables never held a row (no release wrote them) and are dropped.
    static let oneRecordsTable = Migration(
        version: 2,
        name: "one records table; leases without a foreign key",
        statements: [
            "DROP TABLE credsd_refresh_leases",
            "DROP TABLE credsd_connections, credsd_policies, credsd_members, credsd_grants, credsd_oauth_states",
            """
            -- Every record the admin socket writes, as credsd stores it in LMDB: a connection's sealed payload is
            -- inside its record as the same XChaCha20-Poly1305 bytes; grants and OAuth states are keyed by the
            -- SHA-256 of their token. version goes +1 on every write (row lock: monotonic); a write names the
            -- version it was computed from and fails when another host moved it. Deleted rows stay as tombstones.
            CREATE TABLE credsd_records (
                entity        text NOT NULL
                                CHECK (entity IN ('connection', 'policy', 'member', 'grant', 'oauth_state')),
                key           bytea NOT NULL,    -- the record's LMDB key (ids joined by NUL; token digests)
                workspace_id  text NOT NULL,
                version       bigint NOT NULL CHECK (version > 0),
                deleted       boolean NOT NULL DEFAULT false,
                value         bytea,             -- the record's bytes; NULL when deleted
                host_id       text NOT NULL,     -- the host that wrote this version
                updated_at    timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (entity, key),
                CHECK (deleted = (value IS NULL))
            )
            """,
            "CREATE INDEX credsd_records_workspace ON credsd_records (workspace_id, entity)",
            """
            -- One token refresh per connection across hosts (see version 1); keyed by connection id, removed with
            -- the connection by the write that deletes it.
            CREATE TABLE credsd_refresh_leases (
                connection_id  text PRIMARY KEY,
                holder         text,
                lease_until    timestamptz NOT NULL DEFAULT '-infinity',
                fencing        bigint NOT NULL DEFAULT 0 CHECK (fencing >= 0),
                seen_version   bigint NOT NULL DEFAULT 0
            )
            """,
            "COMMENT ON TABLE credsd_records IS 'credsd: replicated records, connection payloads sealed as in LMDB'",
            "COMMENT ON TABLE credsd_refresh_leases IS 'credsd: cross-host OAuth refresh leases with fencing'",
        ]
    )

    /// Version 3: webhook ids verified on any host, so a replay to another host is refused (SPEC 10).
    static let webhookIds = Migration(
        version: 3,
        name: "webhook ids seen cluster-wide",
        statements: [
            """
            -- events.verify: the SHA-256 of (connection id, svix-id) of every verified webhook, kept 10 minutes
            -- (twice the 5-minute timestamp tolerance); pruned by the hosts' periodic maintenance.
            CREATE TABLE credsd_webhook_ids (
                digest   bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
                seen_at  timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
            "CREATE INDEX credsd_webhook_ids_seen_at ON credsd_webhook_ids (seen_at)",
        ]
    )

    /// Version 4: every host's audit chain, shipped (SPEC 10), and a head per host that refuses a fork or a
    /// rewrite of what was shipped.
    static let auditChains = Migration(
        version: 4,
        name: "audit chains shipped by every host",
        statements: [
            """
            -- Each host's audit entries as it stores them (the bytes its hash covers, and the hash), with their
            -- link; written only by shipping, which checks each batch against the host's head.
            CREATE TABLE credsd_audit (
                host_id     text NOT NULL,
                seq         bigint NOT NULL CHECK (seq > 0),
                entry       bytea NOT NULL,
                prev_hash   bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
                hash        bytea NOT NULL CHECK (octet_length(hash) = 32),
                shipped_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (host_id, seq)
            )
            """,
            """
            -- The last entry shipped by each host: a batch must continue from it (or repeat what is there, byte
            -- for byte, when a shipment's answer was lost); gaps are entries the host trimmed before shipping.
            CREATE TABLE credsd_audit_heads (
                host_id     text PRIMARY KEY,
                seq         bigint NOT NULL CHECK (seq > 0),
                hash        bytea NOT NULL CHECK (octet_length(hash) = 32),
                gaps        bigint NOT NULL DEFAULT 0,
                updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
        ]
    )

    /// Version 5: `audit.list` across hosts (SPEC 10) reads shipped entries by number and by workspace without
    /// decoding every row; the upkeep finds tombstones no change names by index.
    static let auditListing = Migration(
        version: 5,
        name: "audit listing by number and workspace, changes by record",
        statements: [
            """
            -- An audit entry's workspace, read from its stored bytes (the binary record, or a JSON entry written
            -- before it); NULL when it has none or the bytes cannot be read. PostgreSQL computes it, so a shipping
            -- host cannot put anything else beside an entry, and entries shipped before version 5 have it too.
            CREATE FUNCTION credsd_audit_workspace(entry bytea) RETURNS text
            LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
            DECLARE
                present int;
                at int;
                len bigint;
            BEGIN
                IF length(entry) = 0 THEN RETURN NULL; END IF;
                IF get_byte(entry, 0) = 123 THEN
                    RETURN convert_from(entry, 'UTF8')::jsonb ->> 'workspaceId';
                END IF;
                -- version 1, seq 8, time 8, socket 1, present 1; then peerUid 4, peerPid 4, suppressed 8 by bits.
                present := get_byte(entry, 18);
                at := 19 + (present & 1) * 4 + ((present >> 1) & 1) * 4 + ((present >> 2) & 1) * 8;
                -- method: a 4-byte length (0xFFFFFFFF: none) and its bytes; then the workspace the same way.
                len := (get_byte(entry, at)::bigint << 24) | (get_byte(entry, at + 1) << 16)
                     | (get_byte(entry, at + 2) << 8) | get_byte(entry, at + 3);
                at := at + 4 + CASE WHEN len = 4294967295 THEN 0 ELSE len END;
                len := (get_byte(entry, at)::bigint << 24) | (get_byte(entry, at + 1) << 16)
                     | (get_byte(entry, at + 2) << 8) | get_byte(entry, at + 3);
                IF len = 4294967295 THEN RETURN NULL; END IF;
                RETURN convert_from(substring(entry FROM at + 5 FOR len::int), 'UTF8');
            EXCEPTION WHEN others THEN
                RETURN NULL;
            END
            $$
            """,
            """
            ALTER TABLE credsd_audit
                ADD COLUMN workspace_id text GENERATED ALWAYS AS (credsd_audit_workspace(entry)) STORED
            """,
            "CREATE INDEX credsd_audit_by_seq ON credsd_audit (seq, host_id)",
            "CREATE INDEX credsd_audit_by_workspace ON credsd_audit (workspace_id, seq, host_id)",
            "-- The upkeep purges tombstones no change names any more.",
            "CREATE INDEX credsd_changes_by_record ON credsd_changes (entity, entity_key)",
        ]
    )

    /// Version 6: budgets are replicated records (SPEC 12), and every host's usage is summed here.
    static let budgetsAndUsage = Migration(
        version: 6,
        name: "budgets and usage",
        statements: [
            "ALTER TABLE credsd_records DROP CONSTRAINT credsd_records_entity_check",
            """
            ALTER TABLE credsd_records ADD CONSTRAINT credsd_records_entity_check
                CHECK (entity IN ('connection', 'policy', 'member', 'grant', 'oauth_state', 'budget'))
            """,
            "ALTER TABLE credsd_changes DROP CONSTRAINT credsd_changes_entity_check",
            """
            ALTER TABLE credsd_changes ADD CONSTRAINT credsd_changes_entity_check
                CHECK (entity IN ('connection', 'policy', 'member', 'grant', 'oauth_state', 'budget'))
            """,
            """
            -- Each host's usage per workspace, provider and UTC day, as that host counted it (absolute figures: a
            -- host writes its row again, never adds to it, so a retry counts nothing twice). Budgets sum the
            -- built-in columns over hosts; usage.get sums counts. Kept 400 days (the upkeep removes older rows).
            CREATE TABLE credsd_usage (
                workspace_id      text NOT NULL,
                provider          text NOT NULL,
                day               date NOT NULL,
                host_id           text NOT NULL,
                counts            bytea NOT NULL,     -- the day's counts as JSON, as usage.get answers them
                builtin_resolves  bigint NOT NULL CHECK (builtin_resolves >= 0),
                builtin_units     bigint NOT NULL CHECK (builtin_units >= 0),
                weight            bigint NOT NULL,    -- the sum of every count: a row is only written over by more
                updated_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (workspace_id, provider, day, host_id)
            )
            """,
            "CREATE INDEX credsd_usage_by_update ON credsd_usage (updated_at)",
            "COMMENT ON TABLE credsd_usage IS 'credsd: usage per workspace, provider, day and host (no secrets)'",
        ]
    )
}
