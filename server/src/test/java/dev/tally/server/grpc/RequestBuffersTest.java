package dev.tally.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SessionRequest;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

final class RequestBuffersTest {
  private static SessionRequest request(int size, byte fill) {
    byte[] data = new byte[size];
    java.util.Arrays.fill(data, fill);
    return SessionRequest.newBuilder().setStepId(fill).setLogits(Logits.newBuilder()
        .setDtype(DType.DTYPE_FLOAT32).setRows(1).setVocabSize(size / 4)
        .setData(ByteString.copyFrom(data))).build();
  }

  @Test
  void onlyArraysItHandedOutComeBackAndOnlyOnce() {
    RequestBuffers pool = new RequestBuffers();
    byte[] a = pool.take(2 << 20);
    assertThat(a.length).isEqualTo(2 << 20);
    pool.giveBack(ByteString.copyFrom(new byte[3 << 20])); // a client's own bytes: never pooled
    assertThat(pool.freeCount()).isZero();
    com.google.protobuf.ByteString view =
        com.google.protobuf.UnsafeByteOperations.unsafeWrap(a, 16, 1000);
    pool.giveBack(view);
    pool.giveBack(view); // twice: once is enough
    assertThat(pool.freeCount()).isEqualTo(1);
    assertThat(pool.take((2 << 20) - 5)).isSameAs(a);
    assertThat(pool.take(2 << 20)).isNotSameAs(a);
  }

  @Test
  void smallOrMuchSmallerRequestsDoNotTakePooledArrays() {
    RequestBuffers pool = new RequestBuffers();
    byte[] big = pool.take(8 << 20);
    pool.giveBack(com.google.protobuf.UnsafeByteOperations.unsafeWrap(big));
    assertThat(pool.take(1000)).isNotSameAs(big).hasSize(1000);
    assertThat(pool.take(3 << 20)).isNotSameAs(big); // would waste more than half
    assertThat(pool.take(5 << 20)).isSameAs(big);
  }

  /** Through the marshaller: the parsed tensor is a view of a pooled array, reused next time. */
  @Test
  void theMarshallerParsesLargeRequestsIntoReusedArrays() {
    RequestBuffers pool = new RequestBuffers();
    AliasingMarshaller<SessionRequest> m =
        AliasingMarshaller.of(SessionRequest.getDefaultInstance(), pool);
    int before = pool.freeCount();
    SessionRequest first = m.parse(m.stream(request(3 << 20, (byte) 1)));
    assertThat(first.getLogits().getData().byteAt(12345)).isEqualTo((byte) 1);
    pool.giveBack(first.getLogits().getData());
    assertThat(pool.freeCount()).isEqualTo(before + 1);
    InputStream next = m.stream(request(3 << 20, (byte) 2));
    SessionRequest second = m.parse(next);
    assertThat(pool.freeCount()).isEqualTo(before);
    assertThat(second.getStepId()).isEqualTo(2);
    assertThat(second.getLogits().getData().byteAt(12345)).isEqualTo((byte) 2);
    assertThat(second.getLogits().getData().size()).isEqualTo(3 << 20);
  }
}
