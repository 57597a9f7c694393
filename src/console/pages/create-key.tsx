import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Crumbs } from "../components/crumbs.js";
import { FormErrorNote } from "../components/form-error-note.js";
import {
  ClaimsSyntaxError,
  createInput,
  EMPTY_KEY_FORM,
  issuesByField,
  KeyFields,
  type KeyFormValues,
} from "../components/key-form.js";
import { TokenOnce } from "../components/token-once.js";
import { useInvalidate } from "../hooks/use-invalidate.js";
import { Link, navigate } from "../router.js";
import { useIsAdmin } from "../session.js";
import { fieldIssues, trpc } from "../trpc.js";

/** Create API key: the token is shown once, then forgotten when the panel closes. */
export default function CreateKeyPage() {
  const admin = useIsAdmin();
  const keysChanged = useInvalidate(trpc.keys.pathKey());
  const [values, setValues] = useState<KeyFormValues>(EMPTY_KEY_FORM);
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<{ id: string; name: string; token: string } | null>(null);
  const create = useMutation(
    trpc.keys.create.mutationOptions({
      onSuccess: async (answer) => {
        setCreated({ id: answer.key.id, name: answer.key.name, token: answer.token });
        await keysChanged();
      },
    }),
  );
  if (!admin) {
    return (
      <section>
        <h1>Create API key</h1>
        <p>
          Only admins can create API keys. <Link href="/keys">Back to the API keys.</Link>
        </p>
      </section>
    );
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      const input = createInput(values);
      setLocalErrors({});
      create.mutate(input);
    } catch (error) {
      if (error instanceof ClaimsSyntaxError) setLocalErrors({ claims: error.message });
      else throw error;
    }
  };
  const errors = { ...issuesByField(fieldIssues(create.error)), ...localErrors };
  const done = () => {
    const id = created?.id;
    // The token goes with this state; the mutation's answer is dropped from memory too.
    setCreated(null);
    create.reset();
    navigate(id ? `/keys/${id}` : "/keys");
  };

  if (created) {
    return (
      <section className="narrow">
        <h1>API key created</h1>
        <p>
          <strong>{created.name}</strong> is ready.
        </p>
        <TokenOnce token={created.token} onDone={done} />
      </section>
    );
  }
  return (
    <section className="narrow">
      <Crumbs href="/keys" label="API keys" />
      <h1>Create API key</h1>
      <form className="card form" onSubmit={submit} noValidate>
        <KeyFields mode="create" values={values} errors={errors} onChange={setValues} />
        <FormErrorNote error={create.error} fieldErrors={errors} />
        <div className="actions">
          <Link href="/keys" className="button ghost">
            Cancel
          </Link>
          <button type="submit" className="button primary" disabled={create.isPending}>
            Create
          </button>
        </div>
      </form>
    </section>
  );
}
