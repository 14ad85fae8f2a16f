/*
 * The benchmark's native reference: whisper.cpp's C API called directly, with the decode
 * parameters the pipeline uses (greedy, no fallback, no timestamps, one segment, the same
 * token cap, threads and audio context), on a 16 kHz mono 16-bit WAV. The crate's bundled
 * whisper.cpp source carries no examples (no whisper-cli), so the benchmark builds that
 * source's library with cmake and links this driver to it.
 *
 * Usage: whisper_native MODEL WAV THREADS MAX_TOKENS RUNS
 * Prints one line per run: `ms <milliseconds of whisper_full>`.
 */
#include "whisper.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void quiet(enum ggml_log_level level, const char *text, void *data) {
    (void)level;
    (void)text;
    (void)data;
}

static float *read_wav(const char *path, int *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc(size);
    if (fread(bytes, 1, size, f) != (size_t)size) return NULL;
    fclose(f);
    long at = 12;
    while (at + 8 <= size && memcmp(bytes + at, "data", 4) != 0) {
        uint32_t len = bytes[at + 4] | bytes[at + 5] << 8 | bytes[at + 6] << 16 | (uint32_t)bytes[at + 7] << 24;
        at += 8 + len;
    }
    if (at + 8 > size) return NULL;
    long count = (size - at - 8) / 2;
    float *pcm = malloc(sizeof(float) * count);
    for (long i = 0; i < count; i++) {
        int16_t s = (int16_t)(bytes[at + 8 + 2 * i] | bytes[at + 9 + 2 * i] << 8);
        pcm[i] = s / 32768.0f;
    }
    free(bytes);
    *n = (int)count;
    return pcm;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL WAV THREADS MAX_TOKENS RUNS\n", argv[0]);
        return 2;
    }
    whisper_log_set(quiet, NULL);
    int n = 0;
    float *pcm = read_wav(argv[2], &n);
    if (!pcm) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    struct whisper_context_params cparams = whisper_context_default_params();
    cparams.use_gpu = false;
    cparams.flash_attn = false;
    struct whisper_context *ctx = whisper_init_from_file_with_params(argv[1], cparams);
    if (!ctx) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    struct whisper_full_params p = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
    p.n_threads = atoi(argv[3]);
    p.max_tokens = atoi(argv[4]);
    p.language = "en";
    p.translate = false;
    p.no_context = true;
    p.single_segment = true;
    p.no_timestamps = true;
    p.token_timestamps = false;
    p.temperature = 0.0f;
    p.temperature_inc = 0.0f;
    p.suppress_blank = true;
    p.suppress_nst = true;
    p.print_special = false;
    p.print_progress = false;
    p.print_realtime = false;
    p.print_timestamps = false;
    /* the pipeline's audio context: 50 frames a second (rounded up) + 16 */
    int ctx_frames = (int)(((long)n * 50 + 15999) / 16000) + 16;
    p.audio_ctx = ctx_frames > 1500 ? 1500 : ctx_frames;
    int runs = atoi(argv[5]);
    for (int r = 0; r < runs; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (whisper_full(ctx, p, pcm, n) != 0) {
            fprintf(stderr, "whisper_full failed\n");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("ms %.1f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
        fflush(stdout);
    }
    whisper_free(ctx);
    free(pcm);
    return 0;
}
