//! The decode loop of one GGUF model: a dedicated thread owning a llama.cpp context with one
//! KV-cache sequence per slot, serving requests by continuous batching.
//!
//! Every step builds one batch: the last sampled token of each decoding sequence, then chunks
//! of waiting prompts in the room left. One `llama_decode` call runs it, each sequence picks its
//! next token from its own logits, and finished sequences free their slot for the next request
//! at once. A small model on a few cores is bound by reading its weights, so decoding several
//! sequences in one batch costs little more than decoding one.

use std::num::NonZeroU32;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;

use assay_models::{AttemptError, ErrorKind};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::oneshot;

use super::sampler::Sampler;
use super::{Finish, GenerateOutput, GenerateRequest};

/// One request handed to the engine: its prompt already tokenized.
pub(super) struct Job {
    pub prompt: Vec<LlamaToken>,
    pub request: GenerateRequest,
    pub reply: oneshot::Sender<Result<GenerateOutput, AttemptError>>,
}

/// The shape of the engine's context.
#[derive(Debug, Clone, Copy)]
pub(super) struct EngineShape {
    /// Sequences decoded together.
    pub slots: usize,
    /// Tokens (prompt and answer) one sequence holds.
    pub seq_context: usize,
    /// CPU threads llama.cpp computes with.
    pub threads: usize,
}

/// Most tokens in one batch (and one compute pass).
const BATCH_TOKENS: usize = 512;

/// Starts the engine thread for `model`; returns once its context exists. The thread ends
/// when every sender is dropped and its last request has finished.
pub(super) fn spawn(
    model: Arc<LlamaModel>,
    shape: EngineShape,
) -> Result<mpsc::Sender<Job>, String> {
    let backend = crate::llama::backend()?;
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), String>>(1);
    std::thread::Builder::new()
        .name("assay-gguf".into())
        .spawn(move || {
            let total = u32::try_from(shape.slots * shape.seq_context).unwrap_or(u32::MAX);
            let threads = i32::try_from(shape.threads).unwrap_or(1);
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(total))
                .with_n_batch(BATCH_TOKENS as u32)
                .with_n_ubatch(BATCH_TOKENS as u32)
                .with_n_seq_max(shape.slots as u32)
                .with_n_threads(threads)
                .with_n_threads_batch(threads);
            let context = match model.new_context(backend, params) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("cannot create a context: {e}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            Engine::new(&model, context, shape).serve(jobs_rx);
        })
        .map_err(|e| format!("cannot start the model thread: {e}"))?;
    ready_rx
        .recv()
        .map_err(|_| "the model thread ended while starting".to_string())??;
    Ok(jobs_tx)
}

/// A request occupying a sequence of the context.
struct Active {
    job: Job,
    sampler: Sampler,
    /// Prompt tokens already in the KV cache.
    fed: usize,
    /// Most tokens to generate (the request's limit, cut to the sequence's room).
    budget: usize,
    generated: Vec<LlamaToken>,
    /// The answer's bytes so far (token pieces concatenated; UTF-8 once complete).
    bytes: Vec<u8>,
    /// Sampled and not yet fed to the model.
    pending: Option<LlamaToken>,
    /// Where this sequence's logits are in the batch just decoded.
    logits_at: Option<i32>,
    /// Bytes of the answer already searched for stop sequences.
    stop_checked: usize,
    /// Where the first stop sequence begins in the answer's text, once one appeared.
    stop_at: Option<usize>,
}

struct Engine<'m> {
    model: &'m LlamaModel,
    context: LlamaContext<'m>,
    shape: EngineShape,
    slots: Vec<Option<Active>>,
    batch: LlamaBatch<'static>,
    logits: Vec<f32>,
}

impl<'m> Engine<'m> {
    fn new(model: &'m LlamaModel, context: LlamaContext<'m>, shape: EngineShape) -> Self {
        Self {
            model,
            context,
            shape,
            slots: (0..shape.slots).map(|_| None).collect(),
            batch: LlamaBatch::new(BATCH_TOKENS, 1),
            logits: Vec::new(),
        }
    }

    fn busy(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    fn serve(mut self, jobs: Receiver<Job>) {
        let mut open = true;
        loop {
            if self.busy() == 0 {
                if !open {
                    return;
                }
                match jobs.recv() {
                    Ok(job) => self.admit(job),
                    Err(_) => return,
                }
            }
            while open && self.busy() < self.slots.len() {
                match jobs.try_recv() {
                    Ok(job) => self.admit(job),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => open = false,
                }
            }
            self.drop_abandoned();
            if self.busy() > 0 {
                self.step();
            }
        }
    }

    /// Takes `job` into a free slot, or answers it at once when it cannot run.
    fn admit(&mut self, job: Job) {
        let room = self.shape.seq_context;
        if job.prompt.is_empty() {
            let _ = job.reply.send(Err(AttemptError::new(
                ErrorKind::BadRequest,
                "the prompt is empty",
            )));
            return;
        }
        if job.prompt.len() >= room {
            let _ = job.reply.send(Err(AttemptError::new(
                ErrorKind::ContextLength,
                format!(
                    "the prompt has {} tokens; the model's context holds {room}",
                    job.prompt.len()
                ),
            )));
            return;
        }
        let Some(free) = self.slots.iter().position(Option::is_none) else {
            unreachable!("admit is only called with a free slot");
        };
        let prompt_ids: Vec<u32> = job.prompt.iter().map(|t| t.0 as u32).collect();
        let vocab = self.model.vocab().n_tokens().max(0) as usize;
        let budget = job.request.max_output_tokens.min(room - job.prompt.len());
        self.slots[free] = Some(Active {
            sampler: Sampler::new(job.request.sampling.clone(), vocab, &prompt_ids),
            job,
            fed: 0,
            budget,
            generated: Vec::new(),
            bytes: Vec::new(),
            pending: None,
            logits_at: None,
            stop_checked: 0,
            stop_at: None,
        });
    }

    /// Frees the slots whose caller has gone away (cancelled or timed out).
    fn drop_abandoned(&mut self) {
        for seq in 0..self.slots.len() {
            if self.slots[seq]
                .as_ref()
                .is_some_and(|a| a.job.reply.is_closed())
            {
                self.release(seq);
            }
        }
    }

    /// Empties sequence `seq`'s KV cache and frees its slot.
    fn release(&mut self, seq: usize) {
        self.slots[seq] = None;
        if let Err(e) = self
            .context
            .clear_kv_cache_seq(Some(seq as u32), None, None)
        {
            tracing::warn!(seq, error = %e, "clearing a finished sequence failed");
        }
    }

    /// Builds one batch, decodes it, and advances every sequence that got logits.
    fn step(&mut self) {
        self.batch.clear();
        let mut room = BATCH_TOKENS;
        // Decoding sequences first (one token each), so answers keep flowing while a long
        // prompt is read.
        for (seq, slot) in self.slots.iter_mut().enumerate() {
            let Some(a) = slot else { continue };
            a.logits_at = None;
            if let Some(token) = a.pending {
                let pos = (a.job.prompt.len() + a.generated.len() - 1) as i32;
                let at = self.batch.n_tokens();
                if self.batch.add(token, pos, &[seq as i32], true).is_ok() {
                    a.logits_at = Some(at);
                    room -= 1;
                }
            }
        }
        for (seq, slot) in self.slots.iter_mut().enumerate() {
            let Some(a) = slot else { continue };
            if a.pending.is_some() || a.fed == a.job.prompt.len() || room == 0 {
                continue;
            }
            let take = room.min(a.job.prompt.len() - a.fed);
            let last = a.job.prompt.len() - 1;
            for i in a.fed..a.fed + take {
                let at = self.batch.n_tokens();
                let wants_logits = i == last;
                if self
                    .batch
                    .add(a.job.prompt[i], i as i32, &[seq as i32], wants_logits)
                    .is_err()
                {
                    break;
                }
                if wants_logits {
                    a.logits_at = Some(at);
                }
                a.fed += 1;
                room -= 1;
            }
        }
        if self.batch.n_tokens() == 0 {
            return;
        }
        let decoded = {
            let _turn = crate::llama::compute_turn();
            self.context.decode(&mut self.batch)
        };
        if let Err(e) = decoded {
            // Every running sequence shares the batch, so none can continue.
            let message = format!("local model: decoding failed: {e}");
            for seq in 0..self.slots.len() {
                if let Some(a) = self.slots[seq].take() {
                    let _ = a
                        .job
                        .reply
                        .send(Err(AttemptError::new(ErrorKind::ServerError, &message)));
                    self.release(seq);
                }
            }
            return;
        }
        for seq in 0..self.slots.len() {
            let Some(at) = self.slots[seq].as_ref().and_then(|a| a.logits_at) else {
                continue;
            };
            self.logits.clear();
            self.logits
                .extend_from_slice(self.context.get_logits_ith(at));
            if let Some(finish) = self.advance(seq) {
                self.finish(seq, finish);
            }
        }
    }

    /// Samples sequence `seq`'s next token from `self.logits`; says when the sequence is done.
    fn advance(&mut self, seq: usize) -> Option<Finish> {
        let vocab = self.model.vocab();
        let a = self.slots[seq].as_mut()?;
        let token = a.sampler.sample(&mut self.logits);
        a.sampler.accept(token);
        let token = LlamaToken(token as i32);
        a.generated.push(token);
        a.pending = None;
        if vocab.is_eog(token) {
            return Some(Finish::EndOfTurn);
        }
        a.bytes
            .extend_from_slice(&vocab.token_to_piece(token, false, None));
        if let Some(cut) = a.find_stop() {
            a.stop_at = Some(cut);
            return Some(Finish::Stop);
        }
        if a.generated.len() >= a.budget {
            return Some(Finish::Length);
        }
        a.pending = Some(token);
        None
    }

    /// Answers sequence `seq`'s request and frees its slot.
    fn finish(&mut self, seq: usize, finish: Finish) {
        if let Some(a) = self.slots[seq].take() {
            let mut text = String::from_utf8_lossy(&a.bytes).into_owned();
            if let Some(cut) = a.stop_at {
                text.truncate(cut);
            }
            let _ = a.job.reply.send(Ok(GenerateOutput {
                text,
                input_tokens: a.job.prompt.len(),
                output_tokens: a.generated.len(),
                finish,
            }));
        }
        self.release(seq);
    }
}

impl Active {
    /// Where a stop sequence now begins in the answer's text, if one does. Only text after the
    /// previous check (plus a stop's length of overlap) can hold a new occurrence.
    fn find_stop(&mut self) -> Option<usize> {
        let stops = &self.job.request.stop;
        let longest = stops.iter().map(String::len).max().unwrap_or(0);
        if longest == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&self.bytes);
        let mut from = self.stop_checked.saturating_sub(longest).min(text.len());
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let hit = first_stop(&text, stops, from);
        self.stop_checked = text.len();
        hit
    }
}

/// Byte offset of the earliest stop sequence in `text` at or after `from`.
fn first_stop(text: &str, stops: &[String], from: usize) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text[from..].find(s.as_str()).map(|i| from + i))
        .min()
}

#[cfg(test)]
mod tests {
    use super::first_stop;

    #[test]
    fn earliest_stop_wins() {
        let stops = vec!["\n".to_string(), "5".to_string(), String::new()];
        assert_eq!(first_stop("1, 2, 3\n4, 5", &stops, 0), Some(7));
        assert_eq!(first_stop("1, 2, 3\n4, 5", &stops, 8), Some(11));
        assert_eq!(first_stop("abc", &stops, 0), None);
    }
}
