package dev.tally.server.testing;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A plaintext HTTP/2 client that writes whatever frames it is told to, in the order it is told,
 * over a plain {@link Socket}: what an attacker does, and what Netty's codec would refuse to send
 * (a RST_STREAM storm, CONTINUATION without end, PINGs and SETTINGS nobody reads the answers of).
 * Headers are HPACK literals without indexing, so no frame depends on the server's HPACK state.
 *
 * <p>With {@code read}, a daemon thread reads the server's frames: it acknowledges the server's
 * SETTINGS and PINGs and records its GOAWAY, RST_STREAMs, PING acknowledgements, responses (their
 * headers, trailers and DATA, the window given back as it comes) and the end of the connection. Without it nothing is read: the server's answers pile up in the socket.
 */
public final class RawHttp2Client implements AutoCloseable {
  public static final int DATA = 0x0;
  public static final int HEADERS = 0x1;
  public static final int RST_STREAM = 0x3;
  public static final int SETTINGS = 0x4;
  public static final int PING = 0x6;
  public static final int GOAWAY = 0x7;
  public static final int WINDOW_UPDATE = 0x8;
  public static final int CONTINUATION = 0x9;

  public static final int END_STREAM = 0x1;
  public static final int ACK = 0x1;
  public static final int END_HEADERS = 0x4;
  public static final int PADDED = 0x8;
  public static final int PRIORITY = 0x20;

  public static final int NO_ERROR = 0x0;
  public static final int PROTOCOL_ERROR = 0x1;
  public static final int CANCEL = 0x8;
  public static final int REFUSED_STREAM = 0x7;
  public static final int ENHANCE_YOUR_CALM = 0xb;

  public static final int SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
  public static final int SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

  private static final byte[] PREFACE =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  /** The server's GOAWAY. */
  public record GoAway(int lastStreamId, int errorCode, String debug) {}

  private final Socket socket;
  private final OutputStream out;
  private final AtomicReference<GoAway> goAway = new AtomicReference<>();
  private final CountDownLatch goAwaySeen = new CountDownLatch(1);
  private final CountDownLatch closed = new CountDownLatch(1);
  private final CountDownLatch settingsSeen = new CountDownLatch(1);
  private final Map<Integer, Long> serverSettings = new ConcurrentHashMap<>();
  private final Map<Integer, Integer> resets = new ConcurrentHashMap<>();
  private final Map<Integer, Boolean> responses = new ConcurrentHashMap<>();
  // Only the reader thread decodes: HPACK state is the connection's, in frame order.
  private final io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder hpack =
      new io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder(false);
  private final Map<Integer, Map<String, String>> headers = new ConcurrentHashMap<>();
  private final Map<Integer, ByteArrayOutputStream> data = new ConcurrentHashMap<>();
  private final AtomicInteger pingAcks = new AtomicInteger();
  private final AtomicLong bytesWritten = new AtomicLong();

  private RawHttp2Client(Socket socket, boolean read) throws IOException {
    this.socket = socket;
    this.out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
    out.write(PREFACE);
    frame(SETTINGS, 0, 0, new byte[0]);
    flush();
    if (read) {
      Thread reader = new Thread(this::readLoop, "raw-h2-reader");
      reader.setDaemon(true);
      reader.start();
    }
  }

  /**
   * Connects to {@code 127.0.0.1:port} and sends the preface and an empty SETTINGS; {@code read}
   * whether to read the server's frames (see the class comment).
   */
  public static RawHttp2Client connect(int port, boolean read) throws IOException {
    Socket s = new Socket();
    s.setTcpNoDelay(true);
    if (!read) {
      // A client that never reads should not hide the server's answers in a receive buffer that
      // Linux autotunes up to tens of megabytes: they are to pile up in the server.
      s.setReceiveBufferSize(4096);
    }
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    return new RawHttp2Client(s, read);
  }

  // ---- writing ----

  /** One frame, buffered; {@link #flush} sends. Shared with the reader's acknowledgements. */
  public synchronized void frame(int type, int flags, int streamId, byte[] payload) throws IOException {
    int n = payload.length;
    out.write(new byte[] {(byte) (n >>> 16), (byte) (n >>> 8), (byte) n, (byte) type,
        (byte) flags, (byte) (streamId >>> 24 & 0x7f), (byte) (streamId >>> 16),
        (byte) (streamId >>> 8), (byte) streamId});
    out.write(payload);
    bytesWritten.addAndGet(9 + n);
  }

  public synchronized void flush() throws IOException {
    out.flush();
  }

  /** A gRPC request's HEADERS for {@code path} ({@code /tally.v1.Sampler/GetServerInfo}). */
  public void requestHeaders(int streamId, String path, boolean endStream) throws IOException {
    frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, requestBlock(path,
        Map.of()));
  }

  public void rstStream(int streamId, int errorCode) throws IOException {
    frame(RST_STREAM, 0, streamId, int32(errorCode));
  }

  public void ping(long data) throws IOException {
    byte[] p = new byte[8];
    for (int i = 0; i < 8; i++) {
      p[i] = (byte) (data >>> (56 - 8 * i));
    }
    frame(PING, 0, 0, p);
  }

  /** A SETTINGS frame (not an acknowledgement) of {@code id, value} pairs. */
  public void settings(int... idValue) throws IOException {
    byte[] p = new byte[idValue.length / 2 * 6];
    for (int i = 0; i < idValue.length / 2; i++) {
      int id = idValue[2 * i];
      int v = idValue[2 * i + 1];
      p[6 * i] = (byte) (id >>> 8);
      p[6 * i + 1] = (byte) id;
      System.arraycopy(int32(v), 0, p, 6 * i + 2, 4);
    }
    frame(SETTINGS, 0, 0, p);
  }

  /** The bytes written so far, frame headers included. */
  public long bytesWritten() {
    return bytesWritten.get();
  }

  // ---- HPACK ----

  /** A header block for a gRPC request to {@code path}, plus {@code extra} headers. */
  public static byte[] requestBlock(String path, Map<String, String> extra) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    literal(b, ":method", "POST");
    literal(b, ":scheme", "http");
    literal(b, ":path", path);
    literal(b, ":authority", "127.0.0.1");
    literal(b, "content-type", "application/grpc");
    literal(b, "te", "trailers");
    extra.forEach((k, v) -> literal(b, k, v));
    return b.toByteArray();
  }

  /** One header as a literal without indexing, new name (RFC 7541, 6.2.2). */
  public static void literal(ByteArrayOutputStream b, String name, String value) {
    b.write(0x00);
    string(b, name);
    string(b, value);
  }

  private static void string(ByteArrayOutputStream b, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
    integer(b, bytes.length, 7, 0x00);
    b.write(bytes, 0, bytes.length);
  }

  private static void integer(ByteArrayOutputStream b, int value, int prefixBits, int mask) {
    int max = (1 << prefixBits) - 1;
    if (value < max) {
      b.write(mask | value);
      return;
    }
    b.write(mask | max);
    int v = value - max;
    while (v >= 128) {
      b.write((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    b.write(v);
  }

  private static byte[] int32(int v) {
    return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
  }

  // ---- reading ----

  private void readLoop() {
    try (DataInputStream in = new DataInputStream(socket.getInputStream())) {
      byte[] header = new byte[9];
      while (true) {
        in.readFully(header);
        int length = (header[0] & 0xff) << 16 | (header[1] & 0xff) << 8 | (header[2] & 0xff);
        int type = header[3] & 0xff;
        int flags = header[4] & 0xff;
        int stream = ((header[5] & 0x7f) << 24) | (header[6] & 0xff) << 16
            | (header[7] & 0xff) << 8 | (header[8] & 0xff);
        byte[] payload = new byte[length];
        in.readFully(payload);
        switch (type) {
          case SETTINGS -> {
            if ((flags & ACK) == 0) {
              for (int i = 0; i + 6 <= length; i += 6) {
                serverSettings.put((payload[i] & 0xff) << 8 | (payload[i + 1] & 0xff),
                    readInt(payload, i + 2) & 0xffffffffL);
              }
              frame(SETTINGS, ACK, 0, new byte[0]);
              flush();
              settingsSeen.countDown();
            }
          }
          case PING -> {
            if ((flags & ACK) != 0) {
              pingAcks.incrementAndGet();
            } else { // the server's own PING, e.g. in a graceful shutdown: answer as peers must
              frame(PING, ACK, 0, payload);
              flush();
            }
          }
          case GOAWAY -> {
            goAway.compareAndSet(null, new GoAway(readInt(payload, 0) & 0x7fffffff,
                readInt(payload, 4), new String(payload, 8, length - 8, StandardCharsets.UTF_8)));
            goAwaySeen.countDown();
          }
          case RST_STREAM -> resets.put(stream, readInt(payload, 0));
          case HEADERS -> {
            recordHeaders(stream, flags, payload);
            responses.merge(stream, (flags & END_STREAM) != 0, Boolean::logicalOr);
          }
          case DATA -> {
            ByteArrayOutputStream d = data.computeIfAbsent(stream, k -> new ByteArrayOutputStream());
            synchronized (d) {
              d.writeBytes(payload);
            }
            if (length > 0) { // give the window back, so long streams keep flowing
              frame(WINDOW_UPDATE, 0, 0, int32(length));
              frame(WINDOW_UPDATE, 0, stream, int32(length));
              flush();
            }
          }
          default -> { } // WINDOW_UPDATE...: nothing to record
        }
      }
    } catch (IOException e) {
      // EOF or reset: the connection is over
    } finally {
      closed.countDown();
    }
  }

  /** Decodes a header block (the server's fit one frame) and keeps its headers by name. */
  private void recordHeaders(int stream, int flags, byte[] payload) throws IOException {
    int from = 0;
    int to = payload.length;
    if ((flags & PADDED) != 0) {
      to -= payload[0] & 0xff;
      from = 1;
    }
    if ((flags & PRIORITY) != 0) {
      from += 5;
    }
    try {
      io.netty.handler.codec.http2.Http2Headers decoded = hpack.decodeHeaders(stream,
          io.netty.buffer.Unpooled.wrappedBuffer(payload, from, to - from));
      Map<String, String> m = headers.computeIfAbsent(stream, k -> new ConcurrentHashMap<>());
      decoded.forEach(e -> m.put(e.getKey().toString(), e.getValue().toString()));
    } catch (io.netty.handler.codec.http2.Http2Exception e) {
      throw new IOException("cannot decode the server's headers", e);
    }
  }

  /** Waits up to {@code wait} for the server to end {@code stream}; true if it did. */
  public boolean awaitEnd(int stream, Duration wait) throws InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    while (!Boolean.TRUE.equals(responses.get(stream)) && !resets.containsKey(stream)) {
      if (System.nanoTime() > deadline || closed.getCount() == 0) {
        return Boolean.TRUE.equals(responses.get(stream));
      }
      Thread.sleep(1);
    }
    return true;
  }

  /** The headers and trailers the server sent on {@code stream}, by name. */
  public Map<String, String> headers(int stream) {
    return Map.copyOf(headers.getOrDefault(stream, new ConcurrentHashMap<>()));
  }

  /** The bytes of the DATA frames the server sent on {@code stream} so far. */
  public byte[] data(int stream) {
    ByteArrayOutputStream d = data.get(stream);
    if (d == null) {
      return new byte[0];
    }
    synchronized (d) {
      return d.toByteArray();
    }
  }

  /** A gRPC message as a DATA payload: the 5-byte prefix (not compressed, length), then it. */
  public static byte[] grpcMessage(byte[] message) {
    byte[] framed = new byte[5 + message.length];
    System.arraycopy(int32(message.length), 0, framed, 1, 4);
    System.arraycopy(message, 0, framed, 5, message.length);
    return framed;
  }

  private static int readInt(byte[] b, int at) {
    return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8
        | (b[at + 3] & 0xff);
  }

  /** The server's first GOAWAY, waiting up to {@code wait}; null if none came. */
  public GoAway awaitGoAway(Duration wait) throws InterruptedException {
    goAwaySeen.await(wait.toMillis(), TimeUnit.MILLISECONDS);
    return goAway.get();
  }

  /** Whether the server ended the connection (EOF or reset) within {@code wait}. */
  public boolean awaitClosed(Duration wait) throws InterruptedException {
    return closed.await(wait.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The server's SETTINGS, once its first SETTINGS frame has come (up to {@code wait}). */
  public Map<Integer, Long> serverSettings(Duration wait) throws InterruptedException {
    settingsSeen.await(wait.toMillis(), TimeUnit.MILLISECONDS);
    return Map.copyOf(serverSettings);
  }

  /** RST_STREAM frames received: stream id to error code. */
  public Map<Integer, Integer> resets() {
    return Map.copyOf(resets);
  }

  /** Streams the server sent HEADERS on: stream id to whether they ended the stream. */
  public Map<Integer, Boolean> responses() {
    return Map.copyOf(responses);
  }

  public int pingAcks() {
    return pingAcks.get();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
