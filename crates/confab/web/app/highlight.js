// A small syntax highlighter: comments, strings, numbers and keywords of the common
// languages, as spans with classes (tok-com, tok-str, tok-num, tok-kw). It scans left to
// right and never builds HTML from the code.
import { h } from './dom.js';

const C_COMMENTS = { line: ['//'], block: ['/*', '*/'] };
const HASH_COMMENTS = { line: ['#'] };
const QUOTES = ['"', "'"];

// Words most C-like languages share; each language adds its own.
const C_WORDS = 'break case catch class const continue default do else enum false finally for if import new null return static super switch this throw true try void while';
const JS_WORDS = `${C_WORDS} async await delete export extends from function in instanceof let of typeof undefined var yield`;
const TYPED = 'abstract interface private protected public';

const LANGUAGES = {
  js: { ...C_COMMENTS, strings: [...QUOTES, '`'], words: JS_WORDS },
  ts: { ...C_COMMENTS, strings: [...QUOTES, '`'], words: `${JS_WORDS} ${TYPED} any as boolean declare implements keyof namespace never number readonly string type unknown` },
  python: {
    ...HASH_COMMENTS,
    strings: ['"""', "'''", ...QUOTES],
    words: 'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return self try while with yield print len range',
  },
  rust: {
    ...C_COMMENTS,
    strings: ['"'],
    words: 'as async await break const continue crate dyn else enum false fn for if impl in let loop match mod move mut pub ref return self Self static struct trait true type unsafe use where while Some None Ok Err',
  },
  go: {
    ...C_COMMENTS,
    strings: [...QUOTES, '`'],
    words: 'break case chan const continue default defer else false for func go if import interface map nil package range return select struct switch true type var',
  },
  c: { ...C_COMMENTS, strings: QUOTES, words: `${C_WORDS} auto bool char double extern float goto include define int long namespace private public short signed sizeof struct template typedef union unsigned using virtual` },
  java: { ...C_COMMENTS, strings: QUOTES, words: `${C_WORDS} ${TYPED} boolean extends final implements instanceof int long package throws var val fun when object override` },
  csharp: { ...C_COMMENTS, strings: QUOTES, words: `${C_WORDS} ${TYPED} as async await bool foreach in int internal is namespace override readonly string using var virtual` },
  php: { line: ['//', '#'], block: ['/*', '*/'], strings: QUOTES, words: `${C_WORDS} ${TYPED} as echo elseif extends foreach function namespace use` },
  ruby: { ...HASH_COMMENTS, strings: QUOTES, words: 'begin break case class def do else elsif end ensure false if in module next nil not or and require rescue return self then true unless until when while yield' },
  shell: { ...HASH_COMMENTS, strings: QUOTES, words: 'if then else elif fi for in do done while until case esac function return export local echo exit' },
  sql: {
    line: ['--'],
    block: ['/*', '*/'],
    strings: ["'"],
    caseless: true,
    words: 'select from where and or not insert into values update set delete create table index drop alter primary key references join left inner on group by order having limit as distinct null is in like union all case when then else end with returning',
  },
  css: { block: ['/*', '*/'], strings: QUOTES, words: 'important' },
  json: { strings: ['"'], words: 'true false null' },
  yaml: { ...HASH_COMMENTS, strings: QUOTES, words: 'true false null' },
  toml: { ...HASH_COMMENTS, strings: QUOTES, words: 'true false' },
  html: { block: ['<!--', '-->'], strings: QUOTES, words: '' },
};

const ALIASES = {
  javascript: 'js', jsx: 'js', mjs: 'js', node: 'js', typescript: 'ts', tsx: 'ts',
  py: 'python', python3: 'python', rs: 'rust', golang: 'go',
  cpp: 'c', 'c++': 'c', h: 'c', hpp: 'c', cc: 'c', kotlin: 'java', kt: 'java', scala: 'java', swift: 'java',
  cs: 'csharp', 'c#': 'csharp', rb: 'ruby', sh: 'shell', bash: 'shell', zsh: 'shell', console: 'shell',
  yml: 'yaml', postgres: 'sql', sqlite: 'sql', mysql: 'sql', scss: 'css', xml: 'html', svg: 'html',
};

const compiled = new Map();

function spec(language) {
  const name = ALIASES[language] ?? language;
  const found = LANGUAGES[name];
  if (!found) return null;
  if (!compiled.has(name)) {
    const words = found.words.split(' ').filter(Boolean);
    compiled.set(name, { ...found, words: new Set(found.caseless ? words.map((w) => w.toLowerCase()) : words) });
  }
  return compiled.get(name);
}

const NUMBER = /(?:0[xob][\da-f_]+|\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?)[a-z\d]*/iy;
const WORD = /[A-Za-z_$][\w$]*/y;

/** Splits code into [class or '', text] pieces. */
export function tokens(code, language) {
  const lang = spec((language || '').toLowerCase());
  if (!lang) return [['', code]];
  const out = [];
  let plain = '';
  const emit = (cls, text) => {
    if (plain) out.push(['', plain]);
    plain = '';
    out.push([cls, text]);
  };
  let i = 0;
  while (i < code.length) {
    const rest = (s) => code.startsWith(s, i);
    const line = lang.line?.find(rest);
    if (line) {
      const end = code.indexOf('\n', i);
      const stop = end < 0 ? code.length : end;
      emit('tok-com', code.slice(i, stop));
      i = stop;
      continue;
    }
    if (lang.block && rest(lang.block[0])) {
      const end = code.indexOf(lang.block[1], i + lang.block[0].length);
      const stop = end < 0 ? code.length : end + lang.block[1].length;
      emit('tok-com', code.slice(i, stop));
      i = stop;
      continue;
    }
    const quote = lang.strings.find(rest);
    if (quote) {
      const stop = stringEnd(code, i, quote);
      emit('tok-str', code.slice(i, stop));
      i = stop;
      continue;
    }
    const before = code[i - 1] ?? ' ';
    if (/[\d]/.test(code[i]) && !/[\w$.]/.test(before)) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(code);
      emit('tok-num', match[0]);
      i += match[0].length;
      continue;
    }
    WORD.lastIndex = i;
    const word = !/[\w$]/.test(before) && WORD.exec(code);
    if (word) {
      const key = lang.caseless ? word[0].toLowerCase() : word[0];
      if (lang.words.has(key)) emit('tok-kw', word[0]);
      else plain += word[0];
      i += word[0].length;
      continue;
    }
    plain += code[i];
    i += 1;
  }
  if (plain) out.push(['', plain]);
  return out;
}

/** Where a string that opens at `start` with `quote` ends (after its closing quote).
 * Single-character quotes stop at the end of the line, except backticks. */
function stringEnd(code, start, quote) {
  let i = start + quote.length;
  const multiline = quote.length === 3 || quote === '`';
  while (i < code.length) {
    if (code[i] === '\\') i += 2;
    else if (code.startsWith(quote, i)) return i + quote.length;
    else if (code[i] === '\n' && !multiline) return i;
    else i += 1;
  }
  return code.length;
}

/** A highlighted <code> element for the code. */
export function highlight(code, language) {
  const el = h('code', { class: language ? `language-${language}` : '' });
  for (const [cls, text] of tokens(code, language)) {
    el.append(cls ? h('span', { class: cls }, text) : document.createTextNode(text));
  }
  return el;
}
