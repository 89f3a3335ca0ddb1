import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;

/**
 * The MongoDB test server for Sluice's mongodb.* tests where no mongod can run: mongo-java-server
 * (de.bwaldvogel, a MongoDB wire-protocol server in Java) with its in-memory backend and its oplog on,
 * so collection-level change streams work. Data lives in memory and is gone when the process ends.
 *
 *   java -cp "classes:lib/*" Main [port=27018] [host=127.0.0.1] [oplogWindowSeconds=30] [cert.pem key.pem]
 *
 * With a certificate (PEM) and its unencrypted PKCS#8 RSA key (PEM), the server speaks TLS only: the
 * TLS tests of the mongodb.* nodes use a second instance started that way.
 *
 * The oplog (local.oplog.rs, what change streams read) would otherwise keep every write in the heap for
 * the life of the process, dropped databases included; here entries older than oplogWindowSeconds are
 * removed every 10 s (each trim scans the oplog, so not more often), as a real oplog is capped. A change
 * stream resumed from an older position starts at the oldest entry left (a real server fails with
 * ChangeStreamHistoryLost instead).
 *
 * Two changes to what the stock server reports (not to what it does):
 * - version: mongo-java-server 1.47 reports at most wire version 8 (its MONGO_5_0 constant) and the
 *   Node.js driver 7 refuses servers below wire version 9 (MongoDB 4.4). The server only reports its
 *   version (hello, buildInfo), it never chooses behaviour by it, so this main reports 4.4.0 / wire 9.
 * - buildInfo carries `mongoJavaServer: "1.47.0"`, so tests can say which server they ran against and
 *   skip (loudly) what this server does not implement.
 */
public class Main {
    static final String MONGO_JAVA_SERVER_VERSION = "1.47.0";

    private static final MongoVersion VERSION = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    static final class Backend extends MemoryBackend {
        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            Document reply = super.handleCommand(channel, database, command, query);
            if (command.equalsIgnoreCase("buildinfo")) reply.put("mongoJavaServer", MONGO_JAVA_SERVER_VERSION);
            return reply;
        }
    }

    /** removes the oplog entries older than the window */
    static void trimOplog(Backend backend, long windowMs) {
        try {
            MongoDatabase local = backend.resolveDatabase("local");
            MongoCollection<?> oplog = local == null ? null : local.resolveCollection("oplog.rs", false);
            if (oplog == null) return;
            Instant before = Instant.now().minusMillis(windowMs);
            oplog.deleteDocuments(new Document("wall", new Document("$lt", before)), Integer.MAX_VALUE);
        } catch (RuntimeException e) {
            System.err.println("oplog trim failed: " + e);
        }
    }

    static PrivateKey readKey(Path pem) throws Exception {
        String text = Files.readString(pem).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(text)));
    }

    static X509Certificate readCertificate(Path pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
    }

    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 27018;
        String host = args.length > 1 ? args[1] : "127.0.0.1";
        long windowMs = (args.length > 2 ? Long.parseLong(args[2]) : 30) * 1000;
        Backend backend = new Backend();
        backend.version(VERSION);
        MongoServer server = new MongoServer(backend);
        server.enableOplog();
        if (args.length > 4) server.enableSsl(readKey(Path.of(args[4])), null, readCertificate(Path.of(args[3])));
        server.bind(host, port);
        ScheduledExecutorService trimmer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "oplog-trimmer");
            t.setDaemon(true);
            return t;
        });
        trimmer.scheduleWithFixedDelay(() -> trimOplog(backend, windowMs), 10, 10, TimeUnit.SECONDS);
        System.out.println("mongo-java-server " + MONGO_JAVA_SERVER_VERSION + " (memory backend, oplog on, window " + windowMs / 1000
                + " s" + (args.length > 4 ? ", TLS" : "") + ") listening on " + host + ":" + port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        Thread.currentThread().join();
    }
}
