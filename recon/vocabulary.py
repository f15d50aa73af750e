"""The Chinese words for recon's canonical names, defined once for every output."""

from __future__ import annotations

ROW_FINGERPRINT = "row_fingerprint"  # the worklist's machine column (not a label)

FEED_LABELS = {"pop": "全员人口", "hosp": "住院分娩", "police": "公安户籍"}
CATEGORY_LABELS = {
    "missing": "漏报",
    "misreported": "错报",
    "fictitious": "虚报",
    "duplicate": "重报",
}


# --- worklists and the six sign-offs ----------------------------------------------

HEADERS_ZH = {
    "case_id": "案件编号",
    "category": "类别",
    "target_system": "目标系统",
    "field": "字段",
    "current_value": "现值",
    "proposed_value": "建议值",
    "pop_record_id": "全员人口记录编号",
    "hosp_delivery_id": "住院分娩登记编号",
    "police_id_number": "公安户籍身份证号",
    "duplicate_of": "重报保留记录编号",
    "division_code": "区划",
    "confidence": "置信度",
    "evidence": "证据",
    "status": "状态",
    ROW_FINGERPRINT: "行指纹（请勿修改）",
}
PART_ZH = {"role": "角色", "name": "姓名", "date": "日期", "decision": "意见", "reason": "理由"}
STATUS_ZH = {
    "open": "待签",
    "signing": "签字中",
    "approved": "已通过",
    "rejected": "已否决",
    "applied": "已更正",
}
FIELD_ZH = {
    "sex": "性别",
    "birth_date": "出生日期",
    "mother_id": "母亲公民身份号码",
    "id_number": "公民身份号码",
    "name": "姓名",
    "birth_order": "孩次",
    "division_code": "区划代码",
    "certificate_no": "出生医学证明编号",
    "birth_rank": "胎序",
}
# The kinds of row problem an import reports, with the label its summary counts them by.
PROBLEM_KINDS = {
    "no_case_id": "缺少案件编号",
    "not_exported": "案件不在本次导出中",
    "duplicate_row": "同一案件多行",
    "no_fingerprint": "缺少行指纹",
    "fingerprint": "行指纹不符",
    "changed": "案件内容被改动",
    "order": "未按顺序签字",
    "role": "角色不符",
    "name": "缺少姓名",
    "signer_twice": "一人签两个角色",
    "date": "日期无法识别",
    "date_future": "日期晚于今天",
    "date_before_case": "日期早于立案",
    "date_order": "日期早于上一签字",
    "decision": "意见无效",
    "reason": "不同意未填理由",
    "after_reject": "否决后仍签字",
    "conflict": "与已导入的签字不同",
    "status": "案件已不接受签字",
    "other": "其他",
}


# --- the auditors' report ------------------------------------------------------------

STATUS_LABELS = {**STATUS_ZH, "closed": "已消失（数据已更正）"}
RULE_LABELS = {
    "required": "缺少必填项",
    "unreadable": "无法识别",
    "key_repeated": "文件内主键重复",
    "id_invalid": "校验位或出生日期码错误",
    "id_birthplace": "出生地码未知",
    "id_birth_date_mismatch": "身份号码中的出生日期与出生日期不符",
    "id_sex_mismatch": "身份号码性别码与性别不符",
    "mother_age": "母亲生育年龄不合理",
    "future_date": "晚于数据截止日期",
    "before_birth": "早于出生日期",
    "certificate_form": "出生医学证明编号格式错误",
    "division_unknown": "区划代码未知",
    "rank_plurality": "胎序大于胎数",
    "stillbirth_certificate": "死产却有出生医学证明",
    "certificate_missing": "出生登记无出生医学证明编号",
}
METRIC_LABELS = {
    "rows_read": "读取行数",
    "rows_accepted": "接收行数",
    "rows_quarantined": "隔离行数",
    "quarantine_share": "隔离比例",
    "coverage": "覆盖率",
    "timeliness": "及时率",
    "srb": "出生人口性别比",
    "real_births": "真实出生数",
    "open_cases": "待核实案件数",
}
COVERAGE_LABELS = {
    "hosp": "住院分娩登记率",
    "police": "出生户籍登记率",
    "pop": "全员人口登记率",
    "certificate": "出生医学证明办理率",
}
# The monthly ranking's composite score: the plain mean of these rates, times 100.
SCORE_PARTS = {
    "pop_coverage": "全员人口覆盖率",
    "police_coverage": "公安户籍覆盖率",
    "pop_timely": "全员人口及时率",
    "police_timely": "公安户籍及时率",
    "accuracy": "无错报比例",
}


# --- notices to the police and the hospitals ------------------------------------------

ACTION_ZH = {"add": "新增登记", "update": "更正", "remove": "注销"}
DEPARTMENT_ZH = {"police": "公安机关户籍管理部门", "hosp": "助产机构（住院分娩登记）"}


# --- audit verify -------------------------------------------------------------------

PROBLEM_ZH = {
    "not_in_chain": "在库中但审计日志没有记录（被直接写入）",
    "deleted": "审计日志有记录但库中已没有（被删除）",
    "twice": "审计日志中同一签字出现两次",
    "role": "角色与审计日志不符",
    "decision": "意见与审计日志不符",
    "export_id": "导出编号与审计日志不符",
    "name": "签字人姓名与审计日志不符",
    "signed_on": "签字日期与审计日志不符",
    "reason": "理由与审计日志不符",
}


# --- the night's progress ---------------------------------------------------------------

STAGE_LABELS = {
    "read": "读取",
    "validate": "校验",
    "expectations": "数据期望",
    "store": "入库",
    "link": "链接 (linking)",
    "reconcile": "核对",
    "cases": "案件",
    "metrics": "指标",
    "outputs": "输出",
}
