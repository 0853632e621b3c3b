package dev.tally.server.transport;

import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.AsciiString;

/**
 * Makes each connection's HTTP/2 decoder gather socket reads without copying them.
 *
 * <p>gRPC keeps every DATA frame of a message (slices of the decoder's read buffer) until the
 * whole message has arrived. With Netty's default merging cumulator, the buffer is then never
 * writable in place, so each read that ends mid-frame is copied into a fresh buffer: a second
 * copy of every large request, on the event loop, into memory the pool has just mapped. The
 * composite cumulator appends the read buffers instead.
 */
final class CompositeCumulation implements InternalProtocolNegotiator.ProtocolNegotiator {
  private final InternalProtocolNegotiator.ProtocolNegotiator delegate;

  CompositeCumulation(InternalProtocolNegotiator.ProtocolNegotiator delegate) {
    this.delegate = delegate;
  }

  @Override
  public AsciiString scheme() {
    return delegate.scheme();
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    grpcHandler.setCumulator(ByteToMessageDecoder.COMPOSITE_CUMULATOR);
    return delegate.newHandler(grpcHandler);
  }

  @Override
  public void close() {
    delegate.close();
  }
}
