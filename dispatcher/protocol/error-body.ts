// The body of every 4xx answer: a RequestError's `{ error, field, hint }`
// (errors.ts), the Dockerfile line when the refusal is about one, and the
// config rule when policy refused. The Action reads it to name the input at
// fault and annotate the line (action/request.ts), importing the type only,
// so its bundle carries no TypeBox.

import { type Static, Type } from "@sinclair/typebox";

export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: "What is wrong, starting with the field." }),
    field: Type.String({ description: "Path of the field at fault in the request, or empty." }),
    hint: Type.String({ description: "What to do about it." }),
    line: Type.Optional(
      Type.Integer({ minimum: 1, description: "When the refusal is about one line of the Dockerfile (the request's file): that line, 1-based. The Action annotates it." }),
    ),
    rule: Type.Optional(Type.String({ description: "For 403 and 429 from policy: the config rule that denied the request, e.g. policy.repositories[0].dockerPool." })),
  },
  { $id: "Error" },
);

export type ErrorBody = Static<typeof ErrorSchema>;
