// Tool-call round trip through the npm openai SDK (issue 6): tools in, a tool call out (plain
// and streamed, the stream accumulated by the SDK), then the tool result back in. Prints one
// JSON object for the test to check. Env: DSV32_BASE_URL, DSV32_API_KEY.
import OpenAI from 'openai';

const openai = new OpenAI({ apiKey: process.env.DSV32_API_KEY ?? 'none', baseURL: process.env.DSV32_BASE_URL });
const model = 'deepseek-ai/deepseek-v3.2';
const tools = [{
  type: 'function',
  function: {
    name: 'get_weather', description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];
const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
const base = { model, tools, chat_template_kwargs: { thinking: true } };

const first = await openai.chat.completions.create({ ...base, messages });
const streamed = await openai.beta.chat.completions.stream({ ...base, messages, stream: true }).finalChatCompletion();
const call = first.choices[0].message.tool_calls[0];
messages.push(first.choices[0].message);
messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature_c: 21 }) });
const second = await openai.chat.completions.create({ ...base, messages });
console.log(JSON.stringify({ first: first.choices[0], streamed: streamed.choices[0], second: second.choices[0] }));
