//! [`ObservedBody`]: a response body that records its call in [`RpcMetrics`] when it ends,
//! so a call whose answer fails part-way (a stream that ends with an error in its
//! trailers, or a client that goes away) is counted with the code it really ended with,
//! and its latency covers the whole answer.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tonic::{Code, Status};

use super::RpcMetrics;

/// What to record, once.
#[derive(Debug)]
struct Pending {
    metrics: Arc<RpcMetrics>,
    method: String,
    start: Instant,
}

/// A response body that records its call when its trailers arrive, when it ends, or when
/// it is dropped before it ended (the client went away: `CANCELLED`).
#[derive(Debug)]
pub struct ObservedBody {
    inner: tonic::body::Body,
    pending: Option<Pending>,
}

impl ObservedBody {
    /// Wraps `inner`, the answer to a call of `method` that began at `start`.
    pub fn new(
        inner: tonic::body::Body,
        metrics: Arc<RpcMetrics>,
        method: String,
        start: Instant,
    ) -> Self {
        Self {
            inner,
            pending: Some(Pending {
                metrics,
                method,
                start,
            }),
        }
    }

    fn finish(&mut self, code: Code) {
        if let Some(pending) = self.pending.take() {
            pending
                .metrics
                .observe(&pending.method, code, pending.start.elapsed());
        }
    }
}

/// The code in a trailers map's `grpc-status` (`OK` when absent: tonic always sends it).
pub fn trailer_code(trailers: &http::HeaderMap) -> Code {
    trailers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<i32>().ok())
        .map_or(Code::Ok, Code::from_i32)
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.finish(trailer_code(trailers));
                }
            }
            Poll::Ready(Some(Err(status))) => this.finish(status.code()),
            Poll::Ready(None) => this.finish(Code::Ok),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        let code = if self.inner.is_end_stream() {
            Code::Ok
        } else {
            Code::Cancelled
        };
        self.finish(code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A body of `chunks`, then trailers with `grpc-status: code`.
    fn streamed(chunks: usize, code: Code) -> tonic::body::Body {
        let mut frames: Vec<Result<Frame<Bytes>, Status>> = (0..chunks)
            .map(|i| Ok(Frame::data(Bytes::from(format!("chunk {i}")))))
            .collect();
        let mut trailers = http::HeaderMap::new();
        trailers.insert(
            "grpc-status",
            http::HeaderValue::from_str(&(code as i32).to_string()).expect("header"),
        );
        frames.push(Ok(Frame::trailers(trailers)));
        tonic::body::Body::new(http_body_util::StreamBody::new(futures::stream::iter(
            frames,
        )))
    }

    async fn drain(mut body: ObservedBody) -> usize {
        let mut frames = 0;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            frame.expect("frame");
            frames += 1;
        }
        frames
    }

    const METHOD: &str = "/mirage.v1.GenerationService/StreamGeneration";

    #[tokio::test]
    async fn a_stream_that_fails_part_way_is_counted_with_its_trailer_code() {
        let metrics = Arc::new(RpcMetrics::new());
        let start = Instant::now() - Duration::from_millis(5);
        let body = ObservedBody::new(
            streamed(3, Code::Internal),
            Arc::clone(&metrics),
            METHOD.into(),
            start,
        );
        assert_eq!(
            metrics.count(METHOD, Code::Internal),
            0,
            "not before it ends"
        );
        assert_eq!(drain(body).await, 4);
        assert_eq!(metrics.count(METHOD, Code::Internal), 1);
        assert_eq!(metrics.count(METHOD, Code::Ok), 0);

        let body = ObservedBody::new(
            streamed(2, Code::Ok),
            Arc::clone(&metrics),
            METHOD.into(),
            Instant::now(),
        );
        drain(body).await;
        assert_eq!(metrics.count(METHOD, Code::Ok), 1);
    }

    #[tokio::test]
    async fn an_answer_dropped_before_its_end_is_cancelled_and_counted_once() {
        let metrics = Arc::new(RpcMetrics::new());
        let mut body = ObservedBody::new(
            streamed(3, Code::Ok),
            Arc::clone(&metrics),
            METHOD.into(),
            Instant::now(),
        );
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(first.is_some());
        drop(body);
        assert_eq!(metrics.count(METHOD, Code::Cancelled), 1);
        assert_eq!(metrics.count(METHOD, Code::Ok), 0);

        // An empty answer dropped unread had nothing left to send: OK.
        drop(ObservedBody::new(
            tonic::body::Body::default(),
            Arc::clone(&metrics),
            METHOD.into(),
            Instant::now(),
        ));
        assert_eq!(metrics.count(METHOD, Code::Ok), 1);
    }
}
