# Classic AG2 (the `autogen` package): a writer and a critic taking turns in a group chat
# until the critic approves. Needs a model key; not run by Baton's tests.
from autogen import ConversableAgent, GroupChat, GroupChatManager, LLMConfig

llm_config = LLMConfig(api_type="openai", model="gpt-4o-mini")

writer = ConversableAgent("writer", system_message="You write.", llm_config=llm_config)
critic = ConversableAgent(
    "critic",
    system_message="You review. Say APPROVED when it is good.",
    llm_config=llm_config,
)
chat = GroupChat(
    agents=[writer, critic],
    messages=[],
    max_round=6,
    speaker_selection_method="round_robin",
)
manager = GroupChatManager(
    groupchat=chat,
    llm_config=llm_config,
    is_termination_msg=lambda message: "APPROVED" in (message.get("content") or ""),
)
result = writer.initiate_chat(manager, message="Write a haiku about tea.")
print(result.summary)
