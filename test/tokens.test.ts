import test from 'ava';
import { estimateTokens, ESTIMATE } from '../core/tokens.ts';
import { loadTokenCounter, O200K_NAME } from '../io/tokenizer.ts';

// Ordinary prose, the kind ShareGPT replies hold.
export const SAMPLES = {
  zh: '大型语言模型的推理服务需要在延迟和吞吐量之间取得平衡。批处理可以提高显卡的利用率，但会让每个请求等待更久；前缀缓存能够复用相同的系统提示，从而减少首个令牌的时间。评估一个新的部署时，应当用真实的流量回放，并比较两个版本的输出是否一致。',
  ja: '大規模言語モデルの推論サーバーでは、遅延とスループットのバランスが重要です。バッチ処理はGPUの利用率を高めますが、各リクエストの待ち時間は長くなります。新しい構成を評価するときは、実際のトラフィックを再生して結果を比較するのがよいでしょう。',
  ko: '대규모 언어 모델의 추론 서버에서는 지연 시간과 처리량 사이의 균형이 중요합니다. 배치 처리는 GPU 활용도를 높이지만 각 요청의 대기 시간이 길어집니다. 새로운 배포를 평가할 때는 실제 트래픽을 재생하여 두 버전의 출력을 비교하는 것이 좋습니다.',
  'zh+code':
    '在Python中，可以使用`requests`库发送HTTP请求，例如：response = requests.get(url, timeout=10)，然后检查response.status_code是否为200。',
  code: 'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nfor i in range(10):\n    print(i, fib(i))\n',
  en: 'Serving a large language model is a balance between latency and throughput. Batching raises GPU utilisation but makes each request wait longer, while a prefix cache reuses a shared system prompt and cuts the time to the first token. To judge a new deployment, replay real traffic and compare the answers of both versions.',
};

test('loadTokenCounter(o200k) works offline (the vocabulary ships in gpt-tokenizer) and is memoised', async (t) => {
  const { counter, note } = await loadTokenCounter('o200k');
  t.is(note, null);
  t.is(counter.name, O200K_NAME);
  t.is(counter.count('hello world'), 2);
  t.is((await loadTokenCounter('o200k')).counter, counter);
  t.is((await loadTokenCounter('estimate')).counter, ESTIMATE);
});

for (const [language, text] of Object.entries(SAMPLES)) {
  test(`the estimate is within 30 % of o200k on ${language}; characters ÷ 4 is not on CJK prose`, async (t) => {
    const { counter } = await loadTokenCounter('o200k');
    const truth = counter.count(text);
    const estimate = estimateTokens(text);
    t.true(Math.abs(estimate - truth) / truth <= 0.3, `${language}: estimate ${estimate}, o200k ${truth}`);
    const charsOver4 = Math.ceil(text.length / 4);
    if (['zh', 'ja', 'ko'].includes(language))
      t.true(Math.abs(charsOver4 - truth) / truth > 0.3, `${language}: chars/4 ${charsOver4}, o200k ${truth}`);
  });
}

test('estimate: Han 0.7, Hangul 0.6, CJK punctuation 1; words, digits and marks by runs', (t) => {
  t.is(estimateTokens(''), 0);
  t.is(estimateTokens('abcdefgh'), 2);
  t.is(estimateTokens('中文'), 2); // 1.4 → 2
  t.is(estimateTokens('中文中文中文中文中文'), 7);
  t.is(estimateTokens('한국어한국'), 3); // 5 × 0.6
  t.is(estimateTokens('a.get'), 2); // a single mark before a word folds into it
  t.is(estimateTokens('a, b'), 3); // ',' then ' b' (a single space folds into the word)
  t.is(estimateTokens('12345'), 2);
  t.is(estimateTokens('internationalisation'), 3); // 20 letters / 7
  t.is(estimateTokens('。，'), 2);
  t.is(estimateTokens('ab中cd'), 3); // 1 + 0.7 + 1 → 3
  t.is(estimateTokens('𠀀𠀁'), 2); // supplementary-plane Han: 0.7 each
});
