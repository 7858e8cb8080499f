/** @jsxImportSource hono/jsx */
/** Nana's view: one card per computer, in plain words, refreshed in place every few seconds. */
import type { Words } from "../../worker/dashboard/plain-words.ts";
import { Page, Time } from "./layout.tsx";

export type ComputerCard = { id: string; name: string; version: string | null; status: Words; problem: Words | null; history: Words[] };

function Sentence(props: { words: Words }) {
  return (
    <span>
      {props.words.before}
      {props.words.at && <Time at={props.words.at} withDate={props.words.withDate} />}
      {props.words.after}
    </span>
  );
}

export function NanaCards(props: { cards: ComputerCard[] }) {
  if (props.cards.length === 0) return <p>No computers yet.</p>;
  return (
    <ul class="cards">
      {props.cards.map((card) => (
        <li class="card" data-node-name={card.name}>
          <h2>{card.name}</h2>
          <p class={`status ${card.status.tone}`} data-testid="status">
            <Sentence words={card.status} />
          </p>
          {card.problem && (
            <p class={`problem ${card.problem.tone}`} data-testid="problem">
              <Sentence words={card.problem} />
            </p>
          )}
          {card.version && <p class="version">Version {card.version}</p>}
          <details>
            <summary>The last 30 days</summary>
            {card.history.length === 0 ? (
              <p>Nothing happened. All good.</p>
            ) : (
              <ul class="history">
                {card.history.slice(0, 30).map((words) => (
                  <li>
                    <Sentence words={words} />
                  </li>
                ))}
              </ul>
            )}
          </details>
        </li>
      ))}
    </ul>
  );
}

export function NanaPage(props: { ownerName: string; cards: ComputerCard[] }) {
  return (
    <Page title="Your computers" nav="nana">
      <h1>Hello {props.ownerName}</h1>
      <p class="lead">Your computers</p>
      {/* app.js refreshes this region from /home/cards every 5 s; a screen reader hears changes politely. */}
      <div id="computers" aria-live="polite" data-refresh="/home/cards" data-every="5">
        <NanaCards cards={props.cards} />
      </div>
    </Page>
  );
}
