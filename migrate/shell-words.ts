// Splits a shell command line into words the way a POSIX shell would for the commands people paste:
// single and double quotes, backslash escapes, `\` line continuations, `#` comments. No variable
// expansion or globbing: `$HF_TOKEN` stays literal text, which is what a converter should see.

export class ShellWordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellWordsError';
  }
}

/** Words of `text`, with the 1-based line each word starts on. */
export function splitShellWords(text: string): Array<{ word: string; line: number }> {
  const words: Array<{ word: string; line: number }> = [];
  let word = '';
  let inWord = false;
  let line = 1;
  let wordLine = 1;
  const begin = () => {
    if (!inWord) {
      inWord = true;
      wordLine = line;
    }
  };
  const end = () => {
    if (inWord) words.push({ word, line: wordLine });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\n') {
      end();
      line++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      end();
    } else if (c === '#' && !inWord) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '\\') {
      const next = text[i + 1];
      if (next === '\n' || (next === '\r' && text[i + 2] === '\n')) {
        // line continuation: the backslash-newline disappears
        i += next === '\r' ? 2 : 1;
        line++;
      } else if (next !== undefined) {
        begin();
        word += next;
        i++;
      }
    } else if (c === "'") {
      begin();
      const close = text.indexOf("'", i + 1);
      if (close === -1) throw new ShellWordsError(`line ${line}: unclosed single quote`);
      const quoted = text.slice(i + 1, close);
      line += quoted.split('\n').length - 1;
      word += quoted;
      i = close;
    } else if (c === '"') {
      begin();
      const startLine = line;
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        const d = text[j] as string;
        if (d === '\n') line++;
        if (d === '\\' && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1] as string)) {
          j++;
          if (text[j] !== '\n') word += text[j];
          else line++;
        } else {
          word += d;
        }
      }
      if (j >= text.length) throw new ShellWordsError(`line ${startLine}: unclosed double quote`);
      i = j;
    } else {
      begin();
      word += c;
    }
  }
  end();
  return words;
}
