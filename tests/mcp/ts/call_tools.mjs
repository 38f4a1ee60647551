// Call an MCP server's tools with the official TypeScript SDK and print what came back.
//
//   node call_tools.mjs <url> < calls.json
//
// stdin holds a JSON list of calls, [{"name": "get-run", "arguments": {"runId": 1}}, ...].
// The script connects over Streamable HTTP, lists the tools (which is when the SDK compiles
// each tool's output schema) and makes each call in turn. It prints one JSON document:
//
//   {"tools": [{"name", "inputSchema", "outputSchema"}, ...],
//    "results": [{"name", "result": <CallToolResult>} | {"name", "error": {"code", "message"}}]}
//
// `Client.callTool` validates any structuredContent against the tool's output schema, error
// results included, and throws an McpError (-32602, "does not match the tool's output
// schema") when it does not match: the check the Python SDK's client skips on errors.
// Anything thrown is reported per call, so one failure does not hide the others.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function describe(error) {
  return {
    type: error?.constructor?.name ?? typeof error,
    code: error?.code ?? null,
    message: error instanceof Error ? error.message : String(error),
  };
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    throw new Error("usage: node call_tools.mjs <url> < calls.json");
  }
  const calls = JSON.parse(await readStdin());
  const client = new Client({ name: "dbt-runs-ts-check", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    const listed = await client.listTools();
    const tools = listed.tools.map(({ name, inputSchema, outputSchema }) => ({
      name,
      inputSchema,
      outputSchema,
    }));
    const results = [];
    for (const { name, arguments: args } of calls) {
      try {
        results.push({ name, result: await client.callTool({ name, arguments: args }) });
      } catch (error) {
        results.push({ name, error: describe(error) });
      }
    }
    process.stdout.write(JSON.stringify({ tools, results }) + "\n");
  } finally {
    await client.close();
  }
}

main().catch((error) => {
  process.stderr.write(`call_tools.mjs: ${error?.stack ?? error}\n`);
  process.exit(1);
});
