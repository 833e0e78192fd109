import { z } from "zod";

export const FileTokenParams = z.strictObject({
  token: z
    .string()
    .min(16)
    .max(8192)
    .describe("Signed download token, as handed out in download_url."),
});

/** A downloaded file's bytes (not JSON). */
export const FileContent = z.any().meta({ description: "The file's bytes." });
