// The Node peer of bench/run: the sendSms block as a Node developer writes it at the defaults,
// with Express and twilio-node, one Twilio client per request. Listens on 127.0.0.1:$PORT (0
// picks one, printed as "port N"); TWILIO_API_BASE points twilio-node at the stand-in.
"use strict";
const express = require("express");
const twilio = require("twilio");

const base = process.env.TWILIO_API_BASE;
const app = express();
app.use(express.json());

app.post("/api/twilio/sendSms", async (req, res) => {
  const a = req.body.args || req.body;
  try {
    const client = twilio(a.accountSid, a.accountToken);
    if (base) client.api.baseUrl = base;
    const message = await client.messages.create({ from: a.from, to: a.to, body: a.body });
    res.json({ callback: "success", contextWrites: { to: message.toJSON() } });
  } catch (e) {
    res.json({
      callback: "error",
      contextWrites: { to: { status_code: "API_ERROR", status_msg: String(e.message) } },
    });
  }
});

const server = app.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`port ${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
